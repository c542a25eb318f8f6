"""Scenario runs for modelers: ``POST /api/scenarios`` starts a background job.

The spec (TOML, as ``safemap scenario run`` reads it) is validated in the request, so a bad
spec gets a 400 naming the key and the fix; the run itself happens in a background thread,
with its status and progress in the ``jobs`` table, so any worker can answer
``GET /api/scenarios/ID`` and a page reload loses nothing. Results are written to
``<workspace>/scenarios/<id>/`` (``result.nc``, ``summary.csv``).
"""

from __future__ import annotations

import threading
import tomllib
import traceback
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from webmap.auth import current_user, login_required
from webmap.db import Job, audit, get_session, utcnow
from webmap.errors import InvalidAPIUsage

bp = Blueprint("scenarios", __name__)
EXAMPLE_SPEC = Path(__file__).resolve().parent.parent / "docs" / "examples" / "scenario.toml"


def parse_spec_text(text: str) -> Any:
    """Validate a TOML spec text into a ``ScenarioSpec`` (raises ``ForecastInputError``)."""
    from forecast.errors import ForecastInputError
    from forecast.scenario import parse_spec

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ForecastInputError(f"the spec is not valid TOML ({exc}); fix the syntax") from exc
    return parse_spec(raw)


def _job_dict(job: Job) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 2),
        "name": job.spec.get("name"),
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(timespec="seconds"),
        "updated_at": job.updated_at.isoformat(timespec="seconds"),
    }
    if job.error:
        body["error"] = job.error
    if job.status == "done":
        body["summary"] = job.summary.get("rows", [])
        body["result_url"] = f"/api/scenarios/{job.id}/result.nc"
        body["summary_url"] = f"/api/scenarios/{job.id}/summary.csv"
    return body


def _set(app: Flask, job_id: str, **fields: Any) -> None:
    with app.app_context():
        session = current_app.extensions["safemap_db"]()
        try:
            job = session.get(Job, job_id)
            if job is None:
                return
            for key, value in fields.items():
                setattr(job, key, value)
            job.updated_at = utcnow()
            session.commit()
        finally:
            session.close()


def run_job(app: Flask, job_id: str, spec_text: str, out_dir: Path) -> None:
    """Run one scenario job to completion, recording progress and the outcome."""
    from forecast.scenario import run_scenario, summarise_scenario
    from forecast.workspace import load_workspace_inputs, write_scenario_result
    from geo.workspace import open_workspace

    try:
        _set(app, job_id, status="running", progress=0.05)
        spec = parse_spec_text(spec_text)
        ws = open_workspace(app.config["WORKSPACE"], create=False)
        inputs = load_workspace_inputs(ws)
        _set(app, job_id, progress=0.2)
        result = run_scenario(spec, inputs.communes, inputs.coupling, cube=inputs.cube)
        _set(app, job_id, progress=0.9)
        summary = summarise_scenario(result)
        write_scenario_result(result, summary, out_dir)
        rows = summary.head(200).astype(object).where(summary.notna(), None).to_dict("records")
        _set(
            app,
            job_id,
            status="done",
            progress=1.0,
            result_path=str(out_dir),
            summary={"rows": rows},
        )
    except Exception as exc:  # a job must always end with a status, whatever failed
        message = str(exc) if isinstance(exc, ValueError) else traceback.format_exc(limit=3)
        _set(app, job_id, status="failed", error=message)


def fail_interrupted_jobs(app: Flask) -> None:
    """Mark jobs left running by a stopped process as failed (called at app start)."""
    session = app.extensions["safemap_db"]()
    try:
        for job in session.scalars(select(Job).where(Job.status.in_(["queued", "running"]))):
            job.status = "failed"
            job.error = "interrupted: the server stopped during the run; submit it again"
        session.commit()
    finally:
        session.close()


@bp.post("/scenarios")
@login_required("modeler")
def create() -> ResponseReturnValue:
    """Validate a scenario spec (TOML body, or JSON ``{"spec": "..."}``) and start it."""
    from forecast.errors import ForecastInputError

    if request.is_json:
        body = request.get_json(silent=True)
        text = body.get("spec") if isinstance(body, dict) else None
    else:
        text = request.get_data(as_text=True)
    if not isinstance(text, str) or not text.strip():
        raise InvalidAPIUsage(
            "send the scenario spec as TOML (Content-Type: application/toml) or as JSON "
            '{"spec": "<toml text>"}; see docs/scenarios.md'
        )
    try:
        spec = parse_spec_text(text)
    except ForecastInputError as exc:
        raise InvalidAPIUsage(str(exc)) from exc
    user = current_user()
    assert user is not None
    job_id = uuid.uuid4().hex[:16]
    db = get_session()
    db.add(
        Job(
            id=job_id,
            kind="scenario",
            status="queued",
            spec={"name": spec.name, "text": text},
            created_by=user.name,
        )
    )
    audit(db, user.name, "start_scenario", "job", job_id, name=spec.name)
    db.commit()
    out_dir = Path(current_app.config["WORKSPACE"]) / "scenarios" / job_id
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if current_app.config.get("SCENARIO_JOBS_INLINE"):
        run_job(app, job_id, text, out_dir)  # tests: run in the request, deterministic
    else:
        threading.Thread(
            target=run_job, args=(app, job_id, text, out_dir), daemon=True, name=job_id
        ).start()
    return jsonify({"id": job_id, "status_url": f"/api/scenarios/{job_id}"}), 202


def _job_or_404(job_id: str) -> Job:
    job = get_session().get(Job, job_id)
    if job is None or job.kind != "scenario":
        raise InvalidAPIUsage(f"no scenario job {job_id}; list them with GET /api/scenarios", 404)
    return job


@bp.get("/scenarios")
@login_required("modeler")
def list_jobs() -> ResponseReturnValue:
    """The latest 50 scenario jobs, newest first."""
    jobs = get_session().scalars(
        select(Job).where(Job.kind == "scenario").order_by(Job.created_at.desc()).limit(50)
    )
    return jsonify([_job_dict(job) for job in jobs])


@bp.get("/scenarios/<job_id>")
@login_required("modeler")
def status(job_id: str) -> ResponseReturnValue:
    """Status and progress of a job; its summary once done."""
    return jsonify(_job_dict(_job_or_404(job_id)))


@bp.get("/scenarios/<job_id>/<any('result.nc', 'summary.csv'):name>")
@login_required("modeler")
def download(job_id: str, name: str) -> ResponseReturnValue:
    """Download the NetCDF result or the summary CSV of a finished job."""
    job = _job_or_404(job_id)
    if job.status != "done" or not job.result_path:
        raise InvalidAPIUsage(f"job {job_id} is {job.status}; wait until it is done", 409)
    return send_file(Path(job.result_path) / name, as_attachment=True, download_name=name)


page_bp = Blueprint("modelers", __name__, url_prefix="/officials")


@page_bp.get("/scenarios")
@login_required("modeler")
def page() -> ResponseReturnValue:
    """Submit a scenario spec and follow the jobs."""
    example = EXAMPLE_SPEC.read_text(encoding="utf-8") if EXAMPLE_SPEC.exists() else ""
    return render_template("officials/scenarios.html", user=current_user(), example=example)
