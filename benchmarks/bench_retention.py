"""Retention purge and retained reads on a check-in batch of province size.

Figures, each against a baseline measured in the same run:

- ``purge``: ``geo.retention.purge_workspace`` deleting the older half of one check-in
  batch (aggregate, then rewrite), against the baseline *read the batch file and write
  it back* (the least any rewrite costs);
- ``retained read``: ``read_retained_feed`` after the purge (remaining rows plus the
  expanded aggregates), against ``read_feed`` of the same batch before the purge.

Usage: ``python benchmarks/bench_retention.py [--quick]`` (quick: 10^6 rows, else 10^7).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from geo.build import cube_columns
from geo.retention import purge_workspace, read_retained_feed
from geo.store import batch_id_for, read_feed, write_batch
from geo.workspace import open_workspace


def checkins(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Check-ins over 60 days, 2,000 venues in 126 communes, like the stored feed."""
    start = pd.Timestamp("2021-05-01", tz="UTC").value // 10**6
    stamps = start + rng.integers(0, 60 * 86_400_000, rows)
    venue = rng.integers(0, 2000, rows)
    return pd.DataFrame(
        {
            "venue_id": pd.Series([f"V{v:05d}" for v in range(2000)], dtype="str")[venue].array,
            "person_id": pd.Series(rng.integers(0, 2**63, rows).astype(str), dtype="str"),
            "timestamp": pd.to_datetime(stamps, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
            "commune_code": pd.Series([f"{9160 + v % 126:05d}" for v in venue], dtype="str"),
            "h3_cell": pd.Series([f"88{v % 400:013x}" for v in venue], dtype="str"),
            "row_key": rng.integers(0, 2**63, rows).astype(np.uint64),
        }
    )


def best_of(repeats: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    rows = 1_000_000 if quick else 10_000_000
    rng = np.random.default_rng(0)
    frame = checkins(rows, rng)
    tmp = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    try:
        ws = open_workspace(tmp / "ws")
        batch = batch_id_for("checkins", b"bench")
        write_batch(ws, "checkins", batch, frame, pd.DataFrame(), metadata={"source": "bench"})
        path = next((ws.events / "checkins").glob("*.parquet"))
        pristine = tmp / "pristine.parquet"
        shutil.copy(path, pristine)
        columns = cube_columns()["checkins"]

        def rewrite() -> None:
            pq.write_table(pq.read_table(path), tmp / "copy.parquet", compression="lz4")

        baseline = best_of(3, rewrite)
        before_read = best_of(3, lambda: read_feed(ws, "checkins", columns=columns))

        def purge() -> None:
            shutil.copy(pristine, path)
            shutil.rmtree(ws.root / "aggregates", ignore_errors=True)
            purge_workspace(ws, older_than_days=30, today=date(2021, 6, 30))

        purge_s = best_of(3, purge)
        deleted = rows - pq.read_metadata(path).num_rows
        after_read = best_of(3, lambda: read_retained_feed(ws, "checkins", columns))
        assert len(read_retained_feed(ws, "checkins", columns)) == rows
        aggregate_rows = sum(
            pq.read_metadata(p).num_rows for p in (ws.root / "aggregates").rglob("*.parquet")
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"check-ins: {rows:,} rows in one batch; purge deletes {deleted:,} (older than 30 days)")
    print(f"  kept as {aggregate_rows:,} aggregate rows ({deleted / aggregate_rows:.0f} per row)")
    print(
        f"purge: {purge_s:.2f} s ({rows / purge_s / 1e6:.2f} M rows/s scanned) = "
        f"{purge_s / baseline:.2f}x baseline read+write of the batch ({baseline:.2f} s)"
    )
    print(
        f"retained read: {after_read:.2f} s = {after_read / before_read:.2f}x read_feed "
        f"before the purge ({before_read:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
