"""Officials' pages: the commune overview, the zone planner, the audit log."""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from webmap.auth import current_user, login_required
from webmap.data import get_snapshot, published_dir
from webmap.db import AuditEntry, get_session
from webmap.errors import InvalidAPIUsage
from webmap.publish import read_officials_table

bp = Blueprint("officials", __name__, url_prefix="/officials")


@bp.app_context_processor
def update_banner() -> dict[str, object]:
    """The last ``safemap update`` when it failed (shown as a banner to officials)."""
    import json as _json
    from pathlib import Path

    path = Path(current_app.config["WORKSPACE"]) / "published" / "last_update.json"
    try:
        status = _json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {"update_problem": None}
    failed = status.get("status") == "failed" or bool(status.get("failed_files"))
    return {"update_problem": status if failed else None}


OVERVIEW_COLUMNS = (
    ("commune_name", "Xã/phường"),
    ("district_name", "Huyện"),
    ("population", "Dân số"),
    ("cases_7d", "F0 7 ngày"),
    ("cases_14d", "F0 14 ngày"),
    ("incidence_7d_per_100k", "F0/100.000/7 ngày"),
    ("last_case_date", "Ca cuối"),
    ("workers_resident", "Công nhân cư trú"),
    ("workers_employed", "Công nhân làm việc"),
    ("venues", "Địa điểm QR"),
)


@bp.get("/")
@login_required("official", "modeler")
def overview() -> ResponseReturnValue:
    """Per-commune table of the published indicators, worst first."""
    snapshot = get_snapshot()
    table = snapshot.communes.drop(columns="geometry").reset_index()
    table = table.sort_values(["cases_7d", "cases_14d"], ascending=False)
    columns = [(c, label) for c, label in OVERVIEW_COLUMNS if c in table.columns]
    return render_template(
        "officials/overview.html",
        user=current_user(),
        meta=snapshot.meta,
        columns=columns,
        rows=table.to_dict("records"),
    )


@bp.get("/zones")
@login_required("official")
def planner() -> ResponseReturnValue:
    """The zone planner: draw or pick communes, evaluate, save, publish, release."""
    snapshot = get_snapshot()
    minx, miny, maxx, maxy = snapshot.communes.total_bounds
    return render_template(
        "officials/planner.html",
        user=current_user(),
        meta=snapshot.meta,
        bounds=json.dumps([[miny, minx], [maxy, maxx]]),
    )


@bp.get("/audit")
@login_required("official", "modeler")
def audit_log() -> ResponseReturnValue:
    """The latest 500 audit entries."""
    entries = get_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500))
    return render_template("officials/audit.html", user=current_user(), entries=list(entries))


# cube variables shown on a commune's page, in the province's reporting order
FEED_ROWS = (
    ("cases", "F0 (tất cả)"),
    ("cases_community", "F0 cộng đồng"),
    ("cases_quarantine", "F0 khu cách ly"),
    ("cases_lockdown", "F0 khu phong tỏa"),
    ("cases_industrial_zone", "F0 khu công nghiệp"),
    ("cases_imported", "F0 nhập cảnh"),
    ("f1", "F1"),
    ("f2", "F2"),
    ("tests", "Mẫu xét nghiệm"),
    ("positives", "Mẫu dương tính"),
    ("declarations", "Khai báo y tế"),
    ("declarations_symptomatic", "Khai báo có triệu chứng"),
    ("checkins", "Lượt quét QR"),
    ("inflow", "Người đến"),
    ("inflow_entry", "Nhập cảnh"),
    ("outflow", "Người đi"),
    ("doses_1", "Mũi 1"),
    ("doses_2", "Mũi 2"),
    ("doses_3", "Mũi 3"),
    ("feedback", "Phản ánh"),
)


def sparkline(values: list[float], *, width: int = 120, height: int = 24) -> str:
    """A tiny inline SVG polyline of ``values`` (escaped numbers only)."""
    if not values:
        return ""
    top = max(max(values), 1.0)
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f'<polyline points="{points}" fill="none" stroke="#b10026" stroke-width="1.5"/></svg>'
    )


def feed_series(
    weekly: pd.DataFrame, codes: list[str]
) -> tuple[list[str], list[dict[str, object]]]:
    """Weekly sums of every feed over ``codes`` (one commune, or a district's communes)."""
    part = weekly[weekly["commune_code"].isin(codes)]
    weeks = sorted(weekly["week_end"].unique())
    table = part.pivot_table(index="variable", columns="week_end", values="value", aggfunc="sum")
    table = table.reindex(columns=weeks, fill_value=0).fillna(0)
    rows: list[dict[str, object]] = []
    for variable, label in FEED_ROWS:
        values = [float(v) for v in table.loc[variable]] if variable in table.index else []
        values = values or [0.0] * len(weeks)
        rows.append(
            {"label": label, "values": [int(v) for v in values], "spark": sparkline(values)}
        )
    return weeks, rows


@bp.get("/communes/<code>")
@login_required("official", "modeler")
def commune(code: str) -> ResponseReturnValue:
    """Every feed of one commune (or, with ``?district=1``, of its district) by week."""
    snapshot = get_snapshot()
    if code not in snapshot.communes.index:
        raise InvalidAPIUsage(f"no commune {code}; pick one on the overview", 404)
    weekly = read_officials_table(published_dir(), "weekly")
    info = snapshot.communes.loc[code]
    district = bool(request.args.get("district"))
    codes = (
        list(snapshot.communes.index[snapshot.communes["district_name"] == info["district_name"]])
        if district
        else [code]
    )
    if weekly is None:  # a snapshot published before the weekly table existed
        weekly = pd.DataFrame(columns=["week_end", "commune_code", "variable", "value"])
    weeks, rows = feed_series(weekly, codes)
    return render_template(
        "officials/commune.html",
        user=current_user(),
        meta=snapshot.meta,
        code=code,
        info=info.drop(labels="geometry").to_dict(),
        district=district,
        weeks=weeks,
        rows=rows,
    )


@bp.get("/suggestions")
@login_required("official")
def suggestions() -> ResponseReturnValue:
    """Venues to trace (visited by F0s while infectious) and communes to test first."""
    tracing = read_officials_table(published_dir(), "tracing")
    testing = read_officials_table(published_dir(), "testing")
    return render_template(
        "officials/suggestions.html",
        user=current_user(),
        meta=get_snapshot().meta,
        tracing=[] if tracing is None else tracing.head(50).to_dict("records"),
        testing=[] if testing is None else testing.head(30).to_dict("records"),
    )


@bp.get("/proposals.geojson")
@login_required("official")
def proposals() -> ResponseReturnValue:
    """Zones proposed from the forecast, with their evaluation (officials only)."""
    from webmap.publish import OFFICIALS_DIR, SNAPSHOT_DIR

    path = published_dir() / SNAPSHOT_DIR / OFFICIALS_DIR / "proposals.geojson"
    if not path.exists():
        return current_app.response_class(
            '{"type": "FeatureCollection", "features": []}', mimetype="application/geo+json"
        )
    return current_app.response_class(path.read_bytes(), mimetype="application/geo+json")
