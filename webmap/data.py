"""Per-app access to the published snapshot, reloaded when a new one is published."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from webmap.publish import META_FILE, SNAPSHOT_DIR, Snapshot, read_snapshot


def published_dir() -> Path:
    """Return the ``published/`` folder of the app's workspace."""
    return Path(current_app.config["WORKSPACE"]) / "published"


def get_snapshot() -> Snapshot:
    """Return the current snapshot, cached on the app until ``meta.json`` changes."""
    meta_path = published_dir() / SNAPSHOT_DIR / META_FILE
    stamp = meta_path.stat().st_mtime_ns if meta_path.exists() else None
    cache = current_app.extensions.setdefault("safemap_snapshot", {})
    if stamp is None or cache.get("stamp") != stamp:
        cache["snapshot"] = read_snapshot(published_dir())
        cache["stamp"] = stamp
    snapshot: Snapshot = cache["snapshot"]
    return snapshot
