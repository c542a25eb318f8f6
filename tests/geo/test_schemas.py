"""Feed schemas and validation: every check, with its reason text."""

from __future__ import annotations

import re
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.assign import build_point_index
from geo.errors import FeedError, WorkspaceError
from geo.pseudonym import pseudonymize_ids
from geo.schemas import EARLIEST_DATE, FEED_NAMES, FEEDS
from geo.validate import (
    ValidationContext,
    build_validation_context,
    get_schema,
    hash_rows,
    normalize_frame,
    validate_feed,
)

TODAY = date(2021, 7, 1)
KEY = "ab" * 32
CODES = ("09163", "09166", "09172", "09190", "09238")


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    """Five square 'communes' covering lon 106.0-106.1, lat 21.1-21.2 and beyond."""
    boxes = [
        box(106.00, 21.10, 106.05, 21.20),
        box(106.05, 21.10, 106.10, 21.20),
        box(106.10, 21.10, 106.15, 21.20),
        box(106.00, 21.20, 106.075, 21.25),
        box(106.075, 21.20, 106.15, 21.25),
    ]
    return gpd.GeoDataFrame(
        {
            "commune_name": ["An", "Bình", "Cao", "Đông", "Yên"],
            "commune_type": "Xã",
            "district_name": "Huyện Tiên Du",
        },
        geometry=boxes,
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


def fake_matcher(addresses: pd.Series, gazetteer: object) -> pd.DataFrame:
    """Stand-in for geo.address.match_addresses: 'ambiguous'/'nowhere' in the text decide."""
    rows = []
    for a in addresses:
        if "ambiguous" in a:
            rows.append((a, None, None, "ambiguous", "09163 Xã A (H1); 09166 Xã A (H2)"))
        elif "nowhere" in a:
            rows.append((a, None, None, "unknown", "09172 Xã C (H3)"))
        else:
            rows.append((a, "09190", "D", "matched", ""))
    return pd.DataFrame(
        rows, columns=["address", "commune_code", "commune_name", "status", "candidates"]
    )


@pytest.fixture(scope="module")
def venues() -> pd.DataFrame:
    return pd.DataFrame(
        {"commune_code": ["09163"], "h3_cell": ["88415cb81bfffff"]},
        index=pd.Index(["V00042"], name="venue_id"),
    )


@pytest.fixture(scope="module")
def context(communes: gpd.GeoDataFrame, venues: pd.DataFrame) -> ValidationContext:
    return ValidationContext(
        today=TODAY,
        known_communes=frozenset(CODES),
        point_index=build_point_index(communes),
        h3_resolution=8,
        venues=venues,
        gazetteer=object(),
        match_addresses=fake_matcher,
    )


def example_frame(feed: str, **changes: str) -> pd.DataFrame:
    row = dict(FEEDS[feed].example)
    row.update(changes)
    return pd.DataFrame([row])


@pytest.mark.parametrize("feed", FEED_NAMES)
def test_every_example_row_is_accepted(feed: str, context: ValidationContext) -> None:
    result = validate_feed(feed, example_frame(feed), context=context)
    assert result.rejects.empty, result.rejects.to_dict("records")
    assert len(result.accepted) == 1
    for column in FEEDS[feed].column_names:
        assert column in result.accepted.columns
    for spec in FEEDS[feed].location:
        assert result.accepted[spec.output].iloc[0] in CODES
    assert result.accepted["row_key"].dtype == np.uint64


def test_twelve_feeds() -> None:
    assert len(FEED_NAMES) == 12


def test_unknown_feed_lists_the_twelve_feeds(context: ValidationContext) -> None:
    with pytest.raises(FeedError, match=r"unknown feed 'casez'; expected one of: cases, contacts"):
        validate_feed("casez", pd.DataFrame(), context=context)


@pytest.mark.parametrize(
    ("feed", "drop", "pattern"),
    [
        ("cases", "report_date", r"cases: required column\(s\) 'report_date' missing"),
        ("checkins", "person_id", r"checkins: required column\(s\) 'person_id' missing"),
        ("venues", "lat", r"expected columns: venue_id, name, venue_type, lat, lon"),
        ("vaccinations", "count", r"'count' missing"),
    ],
)
def test_missing_required_column(
    feed: str, drop: str, pattern: str, context: ValidationContext
) -> None:
    frame = example_frame(feed).drop(columns=[drop])
    with pytest.raises(FeedError, match=pattern):
        validate_feed(feed, frame, context=context)


def test_duplicate_header_names_are_rejected() -> None:
    frame = pd.DataFrame([["a", "b"]], columns=["Case_ID", "case_id "])
    with pytest.raises(FeedError, match=r"columns \['case_id'\] appear more than once"):
        normalize_frame(frame)


# (feed, changes, field, check, reason regex)
REJECT_CASES = [
    ("cases", {"case_id": ""}, "case_id", "empty", r"case_id is empty; expected an identifier"),
    (
        "cases",
        {"report_date": "2031-01-01"},
        "report_date",
        "in the future",
        r"report_date 2031-01-01 is in the future \(today is 2021-07-01\)",
    ),
    (
        "cases",
        {"report_date": "31/12/2018"},
        "report_date",
        "before 2019",
        r"report_date 31/12/2018 is before 2019-01-01",
    ),
    (
        "cases",
        {"report_date": "31/02/2021"},
        "report_date",
        "not a date",
        r"report_date '31/02/2021' is not a date; expected YYYY-MM-DD or DD/MM/YYYY",
    ),
    (
        "cases",
        {"age": "130"},
        "age",
        "out of range",
        r"age 130 is out of range; .*between 0 and 120",
    ),
    ("cases", {"age": "3.5"}, "age", "not a whole number", r"age '3.5' is not a whole number"),
    (
        "cases",
        {"age": "ba"},
        "age",
        "not a number",
        r"age 'ba' is not a whole number; write digits",
    ),
    (
        "cases",
        {"sex": "X"},
        "sex",
        "value not allowed",
        r"sex 'X' is not allowed; expected one of M, F",
    ),
    (
        "cases",
        {"source": "market"},
        "source",
        "value not allowed",
        r"expected one of community, quarantine, lockdown, industrial_zone, imported",
    ),
    (
        "cases",
        {"lat": "106.07", "lon": "21.18"},
        "lat,lon",
        "lat/lon swapped",
        r"lat/lon look swapped: \(106.07, 21.18\) lies in the province when swapped",
    ),
    (
        "cases",
        {"lat": "10.77", "lon": "106.70"},
        "lat,lon",
        "outside the province",
        r"point \(10.77, 106.7\) \(lat, lon\) lies outside every commune",
    ),
    (
        "cases",
        {"lat": "21.15", "lon": ""},
        "lon",
        "half a coordinate pair",
        r"lon is empty while lat is given",
    ),
    (
        "cases",
        {"lat": "", "lon": "", "commune_code": "99999"},
        "commune_code",
        "unknown commune",
        r"commune_code '99999' is not a commune of this boundary set",
    ),
    (
        "cases",
        {"lat": "", "lon": "", "commune_code": "9163"},
        "commune_code",
        "not a 5-digit code",
        r"Excel may have dropped the leading zero: write '09163'",
    ),
    (
        "cases",
        {"lat": "", "lon": ""},
        "commune_code",
        "no location",
        r"no location: give lat\+lon or commune_code or address",
    ),
    (
        "cases",
        {"lat": "", "lon": "", "address": "xã A, ambiguous"},
        "address",
        "address ambiguous",
        r"matches several communes: 09163 Xã A \(H1\); 09166 Xã A \(H2\); add the district",
    ),
    (
        "cases",
        {"lat": "", "lon": "", "address": "Xã nowhere"},
        "address",
        "address unknown",
        r"names no commune of this boundary set; closest: 09172 Xã C \(H3\)",
    ),
    (
        "tests",
        {"result_date": "2021-05-10"},
        "result_date",
        "result before sample",
        r"result_date 2021-05-10 is before sample_date",
    ),
    ("tests", {"pool_size": "0"}, "pool_size", "out of range", r"pool_size 0 is out of range"),
    (
        "declarations",
        {"symptoms": "fever;headache"},
        "symptoms",
        "list item not allowed",
        r"symptoms 'fever;headache' has an item outside fever, cough",
    ),
    (
        "declarations",
        {"symptoms": "none;fever"},
        "symptoms",
        "'none' mixed with symptoms",
        r"combines 'none' with symptoms",
    ),
    (
        "declarations",
        {"recent_travel": "maybe"},
        "recent_travel",
        "value not allowed",
        r"recent_travel 'maybe' is not allowed; expected one of yes, no",
    ),
    (
        "venues",
        {"venue_type": "bar"},
        "venue_type",
        "value not allowed",
        r"venue_type 'bar' is not allowed",
    ),
    (
        "checkins",
        {"venue_id": "V99999"},
        "venue_id",
        "unknown venue",
        r"venue_id 'V99999' is not a known venue; ingest the venues feed first",
    ),
    (
        "checkins",
        {"timestamp": "yesterday 8am"},
        "timestamp",
        "not a timestamp",
        r"timestamp 'yesterday 8am' is not an ISO 8601 timestamp",
    ),
    (
        "checkins",
        {"timestamp": "2021-07-02T00:30:00+07:00"},
        "timestamp",
        "in the future",
        r"is in the future \(today is 2021-07-01, UTC\+7\)",
    ),
    (
        "movements",
        {"kind": "entry", "origin": "123"},
        "origin",
        "not a country code",
        r"origin '123' is not an ISO 3166 two-letter country code",
    ),
    (
        "movements",
        {"origin": "CN"},
        "origin",
        "not a province/commune code",
        r"origin 'CN' is not a 2-digit province or 5-digit commune code",
    ),
    (
        "assessments",
        {"answers": "masks"},
        "answers",
        "not a criterion=yes/no list",
        r"answers 'masks' is not a ';'-list of criterion=yes/no pairs",
    ),
    ("assessments", {"score": "101"}, "score", "out of range", r"between 0 and 100"),
    (
        "feedback",
        {"category": "noise"},
        "category",
        "value not allowed",
        r"expected one of crowding, no_mask",
    ),
    (
        "workers",
        {"factory_commune": "09999"},
        "factory_commune",
        "unknown commune",
        r"factory_commune '09999' is not a commune",
    ),
    ("vaccinations", {"dose": "4"}, "dose", "out of range", r"dose 4 is out of range"),
    (
        "vaccinations",
        {"count": ""},
        "count",
        "empty",
        r"count is empty; expected the number of doses",
    ),
    (
        "vaccinations",
        {"count": "2", "person_id": "027190001234"},
        "count",
        "count on a per-person row",
        r"count 2 on a per-person row",
    ),
    ("workforce", {"staff": "-1"}, "staff", "out of range", r"staff -1 is out of range"),
    (
        "workforce",
        {"role": "Doctor "},
        None,
        None,
        None,
    ),  # case and spaces are normalised: accepted
]


@pytest.mark.parametrize(("feed", "changes", "field", "check", "pattern"), REJECT_CASES)
def test_reject_reasons(
    feed: str,
    changes: dict[str, str],
    field: str | None,
    check: str | None,
    pattern: str | None,
    context: ValidationContext,
) -> None:
    result = validate_feed(feed, example_frame(feed, **changes), context=context)
    if field is None:
        assert result.rejects.empty and len(result.accepted) == 1
        return
    assert result.accepted.empty
    (reject,) = result.rejects.to_dict("records")
    assert reject["row"] == 1
    assert reject["field"] == field
    assert reject["check"] == check
    assert re.search(pattern, reject["reason"]), reject["reason"]


def test_first_failing_check_wins_and_rows_are_one_based(context: ValidationContext) -> None:
    frame = pd.concat(
        [
            example_frame("cases", case_id="A"),
            example_frame("cases", case_id="B", age="x", sex="Q"),
            example_frame("cases", case_id="C"),
        ],
        ignore_index=True,
    )
    result = validate_feed("cases", frame, context=context)
    assert result.rejects[["row", "field"]].to_dict("records") == [{"row": 2, "field": "age"}]
    assert list(result.accepted["case_id"]) == ["A", "C"]


def test_duplicates_within_file_and_against_store(context: ValidationContext) -> None:
    frame = pd.concat([example_frame("cases", case_id=c) for c in "ABA"], ignore_index=True)
    result = validate_feed("cases", frame, context=context)
    (dup,) = result.rejects.to_dict("records")
    assert dup["row"] == 3
    assert re.search(r"duplicate case_id 'A': the same key is on row 1", dup["reason"])
    stored = result.accepted["row_key"].to_numpy()
    again_ctx = ValidationContext(
        today=TODAY,
        known_communes=context.known_communes,
        point_index=context.point_index,
        stored_ids={"cases": stored[:1]},
    )
    again = validate_feed("cases", frame.iloc[:2], context=again_ctx)
    assert list(again.accepted["case_id"]) == ["B"]
    assert re.search(r"case_id 'A' is already in the event store", again.rejects["reason"][0])


def test_points_get_commune_and_h3_cell(context: ValidationContext) -> None:
    import h3

    frame = example_frame("cases", lat="21.15", lon="106.07", commune_code="09163")
    acc = validate_feed("cases", frame, context=context).accepted
    assert acc["commune_code"][0] == "09166"  # coordinates win over commune_code
    assert acc["h3_cell"][0] == h3.latlng_to_cell(21.15, 106.07, 8)


def test_checkins_inherit_venue_commune_and_cell(context: ValidationContext) -> None:
    acc = validate_feed("checkins", example_frame("checkins"), context=context).accepted
    assert (acc["commune_code"][0], acc["h3_cell"][0]) == ("09163", "88415cb81bfffff")


def test_address_rows_get_matched_commune(context: ValidationContext) -> None:
    frame = example_frame("cases", lat="", lon="", address="Thôn Đông, xã D")
    acc = validate_feed("cases", frame, context=context).accepted
    assert acc["commune_code"][0] == "09190"
    assert pd.isna(acc["h3_cell"][0])


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2021-05-10T08:15:00+07:00", "2021-05-10 01:15:00"),
        ("2021-05-10T08:15:00", "2021-05-10 01:15:00"),
        ("2021-05-10 08:15:00", "2021-05-10 01:15:00"),
        ("2021-05-10T01:15:00Z", "2021-05-10 01:15:00"),
        ("2021-05-10T08:15+07:00", "2021-05-10 01:15:00"),
        ("2021-05-10T08:15:00.250+07:00", "2021-05-10 01:15:00.250"),
        ("10/05/2021 08:15", "2021-05-10 01:15:00"),
        ("10/05/2021 08:15:30", "2021-05-10 01:15:30"),
    ],
)
def test_timestamps_are_stored_in_utc(
    text: str, expected_utc: str, context: ValidationContext
) -> None:
    acc = validate_feed("checkins", example_frame("checkins", timestamp=text), context=context)
    assert acc.rejects.empty
    assert acc.accepted["timestamp"][0] == pd.Timestamp(expected_utc, tz="UTC")


def test_person_ids_are_pseudonymised_in_accepted_and_rejects(
    context: ValidationContext,
) -> None:
    ctx = ValidationContext(
        today=TODAY,
        known_communes=context.known_communes,
        point_index=context.point_index,
        pseudonym_key=KEY,
    )
    frame = pd.DataFrame(
        {
            "person_id": ["027190001234", "027190005678", "027190005678"],
            "level": ["F1", "F2", "F2"],
            "source_id": ["BN1", "027190001234", "027190001234"],
            "exposure_date": ["2021-05-01", "2021-05-02", "2021-05-02"],
        }
    )
    result = validate_feed("contacts", frame, context=ctx)
    acc = result.accepted
    assert acc["person_id"][0] == pseudonymize_ids(pd.Series(["027190001234"]), KEY)[0]
    assert acc["source_id"][0] == "BN1"  # a case id is not a person id
    assert acc["source_id"][1] == acc["person_id"][0]  # F2 source: the F1's pseudonym
    assert "027190005678" not in result.rejects.to_string()
    assert "027190001234" not in acc.to_string()


def test_pseudonym_key_must_be_hex() -> None:
    with pytest.raises(WorkspaceError, match=r"pseudonym_key in safemap.toml is not a hex"):
        pseudonymize_ids(pd.Series(["1"]), "not-hex")
    with pytest.raises(WorkspaceError, match=r"has 2 bytes; expected 16-64 bytes"):
        pseudonymize_ids(pd.Series(["1"]), "abcd")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30))
def test_pseudonyms_preserve_equality(ids: list[str]) -> None:
    out = pseudonymize_ids(pd.Series(ids, dtype="str"), KEY)
    for i in range(len(ids)):
        for j in range(len(ids)):
            assert (out[i] == out[j]) == (ids[i] == ids[j])
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in out)


@settings(max_examples=50, deadline=None)
@given(day=st.dates(min_value=EARLIEST_DATE, max_value=TODAY), iso=st.booleans())
def test_valid_dates_parse_in_both_formats(
    day: date, iso: bool, context: ValidationContext
) -> None:
    text = day.isoformat() if iso else day.strftime("%d/%m/%Y")
    acc = validate_feed("feedback", example_frame("feedback", date=text), context=context)
    assert acc.accepted["date"][0] == pd.Timestamp(day)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=20))
def test_row_keys_collide_exactly_on_equal_keys(values: list[str]) -> None:
    frame = pd.DataFrame({"k": pd.Series(values, dtype="str"), "n": range(len(values))})
    keys = hash_rows(frame, ("k",))
    assert (pd.Series(keys).duplicated() == frame["k"].duplicated()).all()


def test_get_schema_column_lookup() -> None:
    assert get_schema("venues").column("lat").kind == "lat"
    with pytest.raises(KeyError, match=r"feed 'venues' has no column 'age'"):
        get_schema("venues").column("age")


def test_build_validation_context_locates_points_and_addresses(
    communes: gpd.GeoDataFrame,
) -> None:
    ctx = build_validation_context(communes, today=TODAY, pseudonym_key=KEY)
    frame = pd.concat(
        [
            example_frame("feedback", lat="21.15", lon="106.12", commune_code=""),
            example_frame("feedback", feedback_id="FB2", commune_code="", address="xã Cao"),
        ],
        ignore_index=True,
    )
    result = validate_feed("feedback", frame, context=ctx)
    assert result.rejects.empty, result.rejects.to_dict("records")
    assert list(result.accepted["commune_code"]) == ["09172", "09172"]


@pytest.mark.parametrize("raw", ["027190001234", "Nguyễn-01", ""])
def test_pseudonym_is_keyed_blake2b_of_the_utf8_id(raw: str) -> None:
    import hashlib

    expected = hashlib.blake2b(raw.encode(), key=bytes.fromhex(KEY), digest_size=8).hexdigest()
    assert pseudonymize_ids(pd.Series([raw], dtype="str"), KEY)[0] == expected
