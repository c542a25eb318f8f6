"""Officials' pages: the commune overview, the zone planner, the audit log."""

from __future__ import annotations

import json

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from webmap.auth import current_user, login_required
from webmap.data import get_snapshot
from webmap.db import AuditEntry, get_session

bp = Blueprint("officials", __name__, url_prefix="/officials")

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
