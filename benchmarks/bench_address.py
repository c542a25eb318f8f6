"""Benchmark: free-text addresses -> communes (geo.address).

Run: ``.venv/bin/python benchmarks/bench_address.py [--quick]``

Addresses come from the accuracy-test generator (``tests/geo/address_cases.py``: hamlet and
street parts, type words, district and province forms, no diacritics, case, spacing, typos),
over the 126 communes of bac-ninh-2021, all distinct strings. Two mixes are timed:

- ``typo 5 %``: one typo in 5 % of the addresses (closer to a real feed);
- ``typo 30 %``: the accuracy-test mix (30 %), which sends many addresses to the fuzzy path.

For each, ``match_addresses`` (the batch API: each distinct word sequence matched once) and a
plain loop of ``match_address`` (every address parsed) are timed against a baseline measured in
the same run: a naive matcher, ``rapidfuzz.process.extractOne`` of the folded address against
the folded "type name district" strings of all communes (``fuzz.token_set_ratio``), whose
accuracy is printed too (it always answers, so it is often wrong). Wall and process CPU time
are both printed; on a shared machine the CPU figures are the steadier ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
from rapidfuzz import fuzz, process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geo.address import build_gazetteer, match_address, match_addresses, normalize_vietnamese  # noqa: E402
from tests.geo.address_cases import generate_variants  # noqa: E402

RAW_2021 = REPO / "boundaries" / "data" / "bac-ninh-2021" / "communes.geojson"


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def naive_matcher(communes: pd.DataFrame) -> Callable[[list[str]], list[str]]:
    codes = list(communes.index)
    full = [
        normalize_vietnamese(f"{r.commune_type} {r.commune_name} {r.district_name}")
        for r in communes.itertuples()
    ]

    def run(addresses: list[str]) -> list[str]:
        out = []
        for address in addresses:
            best = process.extractOne(
                normalize_vietnamese(address), full, scorer=fuzz.token_set_ratio
            )
            out.append(codes[best[2]])
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2,500 addresses per mix")
    args = parser.parse_args()
    per_commune = 20 if args.quick else 160

    communes = pyogrio.read_dataframe(
        RAW_2021,
        columns=["commune_code", "commune_name", "commune_type", "district_name"],
        read_geometry=False,
    ).set_index("commune_code")
    _, wall, cpu = timed(lambda: build_gazetteer(communes, province_names=["Bắc Ninh"]))
    gaz = build_gazetteer(communes, province_names=["Bắc Ninh"])
    naive = naive_matcher(communes)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"build_gazetteer: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU (126 communes)")

    for label, typo_rate, seed in (("typo 5 %", 0.05, 11), ("typo 30 %", 0.3, 12)):
        variants, _ = generate_variants(
            communes, np.random.default_rng(seed), per_commune=per_commune, typo_rate=typo_rate
        )
        seen: dict[str, str] = {}
        for v in variants:
            seen.setdefault(v.address, v.commune_code)
        addresses = list(seen)
        truth = np.array(list(seen.values()))
        n = len(addresses)

        table, b_wall, b_cpu = timed(lambda a=addresses: match_addresses(a, gaz))
        _, l_wall, l_cpu = timed(lambda a=addresses: [match_address(x, gaz) for x in a])
        base_n = min(n, 2_000 if args.quick else 5_000)
        picked, n_wall, n_cpu = timed(lambda a=addresses[:base_n]: naive(a))
        n_wall, n_cpu = n_wall * n / base_n, n_cpu * n / base_n  # scaled to n

        matched = (table["status"] == "matched").to_numpy()
        codes = table["commune_code"].to_numpy(dtype=object)
        right = int((matched & (codes == truth)).sum())
        wrong = int((matched & (codes != truth)).sum())
        naive_right = int((np.array(picked) == truth[:base_n]).sum())

        print(f"\n[{label}] {n:,} distinct addresses")
        rows = [
            ("match_addresses (batch)", b_wall, b_cpu),
            ("match_address loop", l_wall, l_cpu),
            ("baseline naive extractOne", n_wall, n_cpu),
        ]
        for name, w, c in rows:
            print(
                f"  {name:27s} {n / w:>9,.0f} addr/s wall ({n / c:>9,.0f} CPU)  "
                f"x{n_wall / w:5.2f} wall, x{n_cpu / c:5.2f} CPU vs baseline"
            )
        print(
            f"  accuracy: matcher {right / n:.2%} right, {wrong} wrong, "
            f"{n - right - wrong} rejected with candidates; baseline {naive_right / base_n:.2%} "
            f"right, {base_n - naive_right} wrong (of {base_n:,}), none rejected"
        )


if __name__ == "__main__":
    main()
