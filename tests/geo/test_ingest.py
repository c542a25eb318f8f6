"""Readers and end-to-end ingestion into a workspace (idempotency, privacy)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from boundaries.sets import load_boundary_set
from geo.errors import FeedError
from geo.ingest import feed_status, ingest_file, summarize_rejects
from geo.readers import read_feed_bytes, read_feed_file
from geo.schemas import FEED_NAMES
from geo.store import list_batches, read_feed, read_rejects
from geo.synth import synthesize
from geo.workspace import Workspace, open_workspace

TODAY = date(2021, 7, 1)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "feeds"
HEADER = "venue_id,person_id,timestamp\n"
ROW = "V00042,027190005678,2021-05-10T08:15:00+07:00\n"


# --- readers -------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_csv_with_and_without_bom(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(bom + (HEADER + ROW + "V1, ,\n").encode())
    frame = read_feed_file(path)
    assert list(frame.columns) == ["venue_id", "person_id", "timestamp"]
    assert frame["person_id"][0] == "027190005678"  # leading zero kept: strings only
    assert frame["venue_id"].dtype == "str"
    assert pd.isna(frame["timestamp"][1])


def test_excel_csv_crlf_bom_and_empty_header_cells(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfvenue_id,person_id,,\r\nV1,0271,,\r\nV2,0272,,\r\n")
    frame = read_feed_file(path)
    assert list(frame.columns) == ["venue_id", "person_id", "unnamed_3", "unnamed_4"]
    assert frame["person_id"].tolist() == ["0271", "0272"]


def test_csv_keeps_vietnamese_text(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('feedback_id,text\nFB1,"Chợ đông, không đeo khẩu trang"\n', "utf-8")
    assert read_feed_file(path)["text"][0] == "Chợ đông, không đeo khẩu trang"


def test_semicolon_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("venue_id;person_id\nV1;0271\n", "utf-8")
    assert read_feed_file(path).to_dict("records") == [{"venue_id": "V1", "person_id": "0271"}]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", r"the file is empty \(0 bytes\)"),
        (b"\n\n", r"has no header and no rows"),
        ("a,b\nx,y\n".encode("utf-16"), r"UTF-16 \(Excel 'Unicode Text'\), not UTF-8"),
        (
            "text\nThôn Đông\n".encode("cp1258"),
            r"not UTF-8 text: byte 0x\w\w at byte offset \d+ \(line 2\) is invalid; "
            r"it looks like Windows-1258 \(Vietnamese\); open it in Excel and 'Save As' > "
            r"'CSV UTF-8",
        ),
        (b"a,b\n1,2,3\n", r"not a valid CSV file .*same number of columns"),
        (b"a,a\n1,2\n", r"columns \['a'\] appear more than once"),
    ],
)
def test_unusable_csv(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(FeedError, match=pattern):
        read_feed_file(path)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("feed.xlsx", r"unknown file type '.xlsx'; expected one of .csv"),
        ("missing.csv", r"missing.csv: file not found"),
    ],
)
def test_unknown_extension_and_missing_file(tmp_path: Path, name: str, pattern: str) -> None:
    (tmp_path / "feed.xlsx").write_bytes(b"PK")
    with pytest.raises(FeedError, match=pattern):
        read_feed_file(tmp_path / name)


def test_geojson_points(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"venue_id": "V1", "name": "Chợ Nhớn", "venue_type": "market"},
                "geometry": {"type": "Point", "coordinates": [106.0712, 21.1789]},
            }
        ],
    }
    path = tmp_path / "v.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    frame = read_feed_file(path)
    assert frame.iloc[0].to_dict() == {
        "venue_id": "V1",
        "name": "Chợ Nhớn",
        "venue_type": "market",
        "lon": "106.0712",
        "lat": "21.1789",
    }


@pytest.mark.parametrize(
    ("doc", "pattern"),
    [
        ({"type": "Feature"}, r"expected a GeoJSON FeatureCollection, got 'Feature'"),
        ({"type": "FeatureCollection", "features": []}, r"has no features"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon"}}
                ],
            },
            r"feature 1 has a Polygon geometry; expected Point",
        ),
    ],
)
def test_bad_geojson(doc: dict[str, object], pattern: str) -> None:
    with pytest.raises(FeedError, match=pattern):
        read_feed_bytes(json.dumps(doc).encode(), name="v.geojson")


def test_parquet_typed_columns_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "v.parquet"
    pd.DataFrame(
        {
            "commune_code": ["09163"],
            "dose": [1],
            "count": [240],
            "date": [pd.Timestamp("2021-06-01")],
        }
    ).to_parquet(path)
    frame = read_feed_file(path)
    assert frame.iloc[0]["commune_code"] == "09163"
    assert frame.iloc[0]["dose"] == "1"
    assert frame.iloc[0]["date"].startswith("2021-06-01")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(FeedError, match=r"not a readable Parquet file"):
        read_feed_file(path)


# --- ingestion -----------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return open_workspace(tmp_path / "ws")


def test_every_example_feed_file_ingests_cleanly(ws: Workspace) -> None:
    order = ["venues", *[f for f in FEED_NAMES if f != "venues"]]
    for feed in order:
        summary = ingest_file(ws, feed, EXAMPLES / f"{feed}.csv", today=TODAY)
        assert summary.rejected == 0, (feed, summary.examples.to_dict("records"))
        assert summary.accepted == summary.rows > 0
    cases = read_feed(ws, "cases")
    assert cases["commune_code"].notna().all()
    checkins = read_feed(ws, "checkins")
    venues = read_feed(ws, "venues").set_index("venue_id")
    inherited = venues.loc[checkins["venue_id"], ["commune_code", "h3_cell"]].to_numpy()
    assert (checkins[["commune_code", "h3_cell"]].to_numpy() == inherited).all()


def test_same_file_twice_stores_nothing_new(ws: Workspace) -> None:
    path = EXAMPLES / "cases.csv"
    first = ingest_file(ws, "cases", path, today=TODAY)
    second = ingest_file(ws, "cases", path, today=TODAY)
    assert not first.already_ingested and second.already_ingested
    assert second.batch_id == first.batch_id
    assert (second.accepted, second.rejected) == (first.accepted, first.rejected)
    assert len(list_batches(ws, "cases")) == 1


def test_rows_repeated_in_a_new_file_are_rejected_as_stored(ws: Workspace, tmp_path: Path) -> None:
    ingest_file(ws, "cases", EXAMPLES / "cases.csv", today=TODAY)
    again = tmp_path / "cases_again.csv"
    again.write_bytes((EXAMPLES / "cases.csv").read_bytes() + b"\n")  # new bytes, same rows
    summary = ingest_file(ws, "cases", again, today=TODAY)
    assert summary.accepted == 0
    assert list(summary.rejected_by_reason) == ["case_id: already stored"]


def test_raw_person_ids_never_reach_disk(ws: Workspace, tmp_path: Path) -> None:
    ids = ["027190001234", "027190005678", "027190009876"]
    rows = [
        "person_id,level,source_id,exposure_date,commune_code",
        f"{ids[0]},F1,BN1,2021-05-10,09163",
        f"{ids[1]},F2,{ids[0]},2021-05-11,09163",
        f"{ids[2]},F2,{ids[0]},2031-05-11,09163",  # rejected row: its id must not leak either
        f"{ids[1]},F2,{ids[0]},2021-05-11,09163",  # duplicate key (person_id in the key)
    ]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(rows) + "\n", "utf-8")
    summary = ingest_file(ws, "contacts", path, today=TODAY)
    assert (summary.accepted, summary.rejected) == (2, 2)
    stored = [p for p in ws.root.rglob("*") if p.is_file() and p.suffix != ".toml"]
    assert any(p.parent.name == "contacts" for p in stored)
    for p in stored:
        data = p.read_bytes()
        text = pq.read_table(p).to_pandas().to_string() if p.suffix == ".parquet" else ""
        for raw in ids:
            assert raw.encode() not in data, p
            assert raw not in text, p
    assert "BN1" in read_feed(ws, "contacts")["source_id"].tolist()


def test_summary_groups_rejects_and_keeps_examples(ws: Workspace, tmp_path: Path) -> None:
    lines = ["case_id,report_date,commune_code,age,sex,source"]
    lines += [f"C{i},2031-01-0{i % 9 + 1},09163,30,F,community" for i in range(8)]
    lines += ["D1,2021-05-01,09163,300,F,community"]
    path = tmp_path / "cases.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    summary = ingest_file(ws, "cases", path, today=TODAY)
    assert summary.rejected_by_reason == {"report_date: in the future": 8, "age: out of range": 1}
    assert len(summary.examples) == 6  # at most five per reason
    assert summary.rejects_path is not None and summary.rejects_path.exists()
    assert len(read_rejects(ws, "cases")) == 9


def test_summarize_empty_rejects() -> None:
    counts, examples = summarize_rejects(
        pd.DataFrame(columns=["row", "field", "value", "reason", "check"])
    )
    assert counts == {} and examples.empty


def test_checkins_before_venues_are_rejected_with_the_fix(ws: Workspace) -> None:
    summary = ingest_file(ws, "checkins", EXAMPLES / "checkins.csv", today=TODAY)
    assert summary.accepted == 0
    assert "ingest the venues feed first" in summary.examples["reason"][0]


def test_feed_status_reports_counts_and_local_date_range(ws: Workspace) -> None:
    ingest_file(ws, "venues", EXAMPLES / "venues.csv", today=TODAY)
    ingest_file(ws, "checkins", EXAMPLES / "checkins.csv", today=TODAY)
    st = feed_status(ws, "checkins")
    assert st["batches"] == 1 and st["accepted"] == 3 and st["rejected"] == 0
    assert (st["first"], st["last"]) == ("2021-05-10", "2021-05-11")
    assert feed_status(ws, "cases")["batches"] == 0


def test_unknown_feed_is_refused_before_reading(ws: Workspace) -> None:
    with pytest.raises(FeedError, match=r"unknown feed 'case'"):
        ingest_file(ws, "case", EXAMPLES / "cases.csv", today=TODAY)


def test_synthetic_feeds_ingest_without_rejects(ws: Workspace, tmp_path: Path) -> None:
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    result = synthesize(
        communes, start=date(2021, 4, 27), days=10, scale=0.002, rng=np.random.default_rng(1)
    )
    for feed in ["venues", *[f for f in FEED_NAMES if f != "venues"]]:
        if feed not in result.feeds:
            continue
        path = tmp_path / f"{feed}.csv"
        result.feeds[feed].to_csv(path, index=False)
        summary = ingest_file(ws, feed, path, today=TODAY)
        assert summary.rejected == 0, (feed, summary.rejected_by_reason)


@pytest.mark.parametrize("suffix", [".geojson", ".parquet"])
def test_venues_from_geojson_and_parquet(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    venues = pd.read_csv(EXAMPLES / "venues.csv", dtype=str, keep_default_na=False)
    path = tmp_path / f"venues{suffix}"
    if suffix == ".parquet":
        venues.assign(lat=venues["lat"].astype(float), lon=venues["lon"].astype(float)).to_parquet(
            path
        )
    else:
        features = [
            {
                "type": "Feature",
                "properties": {k: v for k, v in row.items() if k not in ("lat", "lon")},
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(row["lon"]), float(row["lat"])],
                },
            }
            for row in venues.to_dict("records")
        ]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    summary = ingest_file(ws, "venues", path, today=TODAY)
    assert (summary.accepted, summary.rejected) == (3, 0)
    from_csv = open_workspace(tmp_path / "csv")
    ingest_file(from_csv, "venues", EXAMPLES / "venues.csv", today=TODAY)
    cols = ["venue_id", "commune_code", "h3_cell"]
    pd.testing.assert_frame_equal(
        read_feed(ws, "venues")[cols], read_feed(from_csv, "venues")[cols]
    )


def test_quoted_line_breaks_stay_in_one_row(tmp_path: Path) -> None:
    path = tmp_path / "feedback.csv"
    path.write_text('feedback_id,text\nFB1,"dòng một\ndòng hai"\nFB2,ok\n', "utf-8")
    frame = read_feed_file(path)
    assert list(frame["feedback_id"]) == ["FB1", "FB2"]
    assert frame["text"][0] == "dòng một\ndòng hai"
