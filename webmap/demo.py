"""Build the demo workspace: synthetic feeds -> ingest -> cube -> published snapshot.

Every step uses the production code path (the same functions the CLI commands call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from boundaries.sets import load_boundary_set
from geo.workspace import Workspace, open_workspace
from webmap.publish import build_commune_layer, write_snapshot

REAL_SERIES = Path(__file__).resolve().parent.parent / "geo" / "data" / "epi"


def publish_workspace(ws: Workspace, cube: xr.Dataset, *, synthetic: bool) -> Path:
    """Compute the public layers from ``cube`` and publish them atomically."""
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    layer = build_commune_layer(cube, communes)
    meta: dict[str, Any] = {
        "as_of": cube.attrs.get("as_of"),
        "as_of_display": str(pd.Timestamp(cube.attrs["last_date"]).strftime("%d/%m/%Y")),
        "date": cube.attrs.get("last_date"),
        "boundary_set": ws.config.boundary_set,
        "attribution": communes.attrs.get("attribution", ""),
        "synthetic": synthetic,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return write_snapshot(ws.published, layer, meta)


def build_demo(
    workspace_dir: str | Path | None,
    *,
    days: int = 60,
    scale: float = 0.05,
    seed: int = 0,
    report: Callable[[str], None] = lambda message: None,
) -> Workspace:
    """Build (or refresh) the demo workspace and publish its map.

    Parameters
    ----------
    workspace_dir : path-like, optional
        Workspace directory (created when missing).
    days, scale, seed : int, float, int
        Size and seed of the synthetic feeds (``safemap synth``).
    report : callable
        Receives one line of progress per step.
    """
    from geo.build import build_workspace_cube
    from geo.ingest import ingest_file
    from geo.synth_io import write_synthetic_feeds
    from webmap._cli_demo import DEMO_FEED_ORDER

    ws = open_workspace(workspace_dir)
    feeds_dir = ws.root / "demo-feeds"
    if not (feeds_dir / "params.json").exists():
        report(f"synth: {days} days at scale {scale} (seed {seed}) -> {feeds_dir}")
        write_synthetic_feeds(
            feeds_dir,
            boundary_set=ws.config.boundary_set,
            days=days,
            scale=scale,
            seed=seed,
            workspace_dir=ws.root,
        )
    for feed in DEMO_FEED_ORDER:
        path = feeds_dir / f"{feed}.csv"
        if not path.exists():
            continue
        summary = ingest_file(ws, feed, path)
        report(f"ingest {feed}: {summary.describe()}")
    cube = build_workspace_cube(ws)
    report(
        f"build: {cube.sizes['date']} days x {cube.sizes['commune']} communes, "
        f"{int(cube['cases'].sum())} cases"
    )
    target = publish_workspace(ws, cube, synthetic=True)
    report(f"publish: {target}")
    return ws
