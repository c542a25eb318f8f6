"""Declarative schemas of the twelve surveillance feeds (pure data, no I/O).

Each :class:`FeedSchema` lists its columns (:class:`ColumnSpec`: kind, required or
optional, allowed values, numeric range), the unique key, which columns hold person ids
(pseudonymised at ingestion), where a row's location comes from (:class:`LocationSpec`)
and which column dates the row. :mod:`geo.validate` interprets them with vectorised
checks; ``docs/data-formats.md`` documents them for people who prepare the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

ColumnKind = Literal[
    "id",  # non-empty identifier, kept as a string
    "person",  # person id: replaced by a keyed hash before storage
    "text",  # free text
    "date",  # ISO YYYY-MM-DD or DD/MM/YYYY
    "timestamp",  # ISO 8601; no offset means local time (UTC+7)
    "int",
    "float",
    "category",  # one of ``allowed``
    "list",  # ';'-separated list, each item one of ``allowed``
    "answers",  # ';'-separated ``criterion=yes|no`` pairs
    "commune",  # 5-digit GSO commune code known to the boundary set
    "lat",
    "lon",
    "origin",  # movements: ISO country (entry) or province/commune code (domestic)
]

EARLIEST_DATE = date(2019, 1, 1)
"""Dates before this are rejected (no COVID-19 surveillance data predates 2019)."""

LOCAL_UTC_OFFSET_HOURS = 7
"""Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving time since 1975)."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a feed.

    Attributes
    ----------
    name : str
        Lower-case column name as it appears in the file header.
    kind : ColumnKind
        How the value is parsed and checked.
    required : bool
        Whether the column must be in the file and non-empty in every row.
    allowed : tuple of str
        Allowed values for ``category`` and ``list`` kinds.
    min_value, max_value : float, optional
        Inclusive numeric range for ``int`` and ``float`` kinds.
    description : str
        One line for the documentation.
    """

    name: str
    kind: ColumnKind
    required: bool = True
    allowed: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    description: str = ""


@dataclass(frozen=True)
class LocationSpec:
    """Where a row's commune (and H3 cell) comes from: the first present source wins.

    Attributes
    ----------
    lat, lon : str, optional
        Coordinate columns (WGS84 decimal degrees); assigned by point-in-polygon.
    commune : str, optional
        Column with a 5-digit commune code, checked against the boundary set.
    address : str, optional
        Free-text address column, matched by :func:`geo.address.match_addresses`.
    output : str
        Name of the resulting commune column in the accepted rows.
    required : bool
        Reject a row that has none of the sources.
    """

    lat: str | None = None
    lon: str | None = None
    commune: str | None = None
    address: str | None = None
    output: str = "commune_code"
    required: bool = True

    @property
    def sources(self) -> tuple[str, ...]:
        """Source columns in order of precedence."""
        cols = (self.lat, self.lon, self.commune, self.address)
        return tuple(c for c in cols if c is not None)


@dataclass(frozen=True)
class FeedSchema:
    """The contract of one feed.

    Attributes
    ----------
    name : str
        Feed name (``cases``, ``checkins``...).
    description : str
        What a row is.
    columns : tuple of ColumnSpec
        Columns in documentation order.
    unique : tuple of str
        Columns whose combination must be unique within the file and the store.
    unique_per_person : tuple of str
        Unique key used instead of ``unique`` when the file has a ``person_id`` column
        (per-person vaccination files).
    location : tuple of LocationSpec
        Location sources of the row (most feeds have one; workers have two).
    venue_column : str, optional
        Column naming a venue whose commune and H3 cell the row inherits.
    venue_required : bool
        Reject rows whose venue is not already in the store.
    conditional_person_ids : tuple of (str, str, str)
        ``(column, condition_column, condition_value)``: the column holds a person id
        (and is pseudonymised) only in rows where ``condition_column == condition_value``.
    time_column : str
        Column that dates the row (used for the date range in ``safemap status``).
    example : mapping of str to str
        One valid example row (as text, the way it appears in a CSV file).
    """

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    unique: tuple[str, ...] = ()
    unique_per_person: tuple[str, ...] = ()
    location: tuple[LocationSpec, ...] = ()
    venue_column: str | None = None
    venue_required: bool = False
    conditional_person_ids: tuple[tuple[str, str, str], ...] = ()
    time_column: str = "date"
    example: Mapping[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        """All column names in documentation order."""
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns that must be present in the file."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def person_id_columns(self) -> tuple[str, ...]:
        """Columns that always hold person ids."""
        return tuple(c.name for c in self.columns if c.kind == "person")

    @property
    def date_columns(self) -> tuple[str, ...]:
        """Columns parsed as dates or timestamps."""
        return tuple(c.name for c in self.columns if c.kind in ("date", "timestamp"))

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column ``name``.

        Parameters
        ----------
        name : str
            Column name.

        Returns
        -------
        ColumnSpec
            The column's spec.

        Raises
        ------
        KeyError
            When the feed has no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"feed {self.name!r} has no column {name!r}; columns: {self.column_names}")


SEXES = ("M", "F")
CASE_SOURCES = ("community", "quarantine", "lockdown", "industrial_zone", "imported")
SETTINGS = ("industrial_zone", "school", "supermarket", "hospital", "market", "other")
CONTACT_LEVELS = ("F1", "F2")
TEST_RESULTS = ("positive", "negative", "inconclusive")
SYMPTOMS = ("fever", "cough", "sore_throat", "breathlessness", "loss_of_smell", "none")
YES_NO = ("yes", "no")
VENUE_TYPES = (
    "school",
    "hospital",
    "market",
    "supermarket",
    "factory",
    "restaurant",
    "office",
    "religious",
    "transport",
    "other",
)
MOVEMENT_KINDS = ("entry", "domestic")
FEEDBACK_CATEGORIES = ("crowding", "no_mask", "suspected_case", "unreported_entry", "other")
ROLES = ("doctor", "nurse", "technician", "other")

_POINT = LocationSpec(lat="lat", lon="lon", commune="commune_code", address="address")

_FEEDS: tuple[FeedSchema, ...] = (
    FeedSchema(
        name="cases",
        description="one reported case (F0)",
        columns=(
            ColumnSpec("case_id", "id", description="unique case id"),
            ColumnSpec("report_date", "date", description="date the case was reported"),
            ColumnSpec("onset_date", "date", required=False, description="symptom onset"),
            ColumnSpec("lat", "lat", required=False, description="residence latitude"),
            ColumnSpec("lon", "lon", required=False, description="residence longitude"),
            ColumnSpec("commune_code", "commune", required=False, description="GSO code"),
            ColumnSpec("address", "text", required=False, description="residence address"),
            ColumnSpec("age", "int", min_value=0, max_value=120, description="years"),
            ColumnSpec("sex", "category", allowed=SEXES),
            ColumnSpec("source", "category", allowed=CASE_SOURCES),
            ColumnSpec("cluster_id", "id", required=False, description="outbreak cluster"),
            ColumnSpec("setting", "category", required=False, allowed=SETTINGS),
            ColumnSpec("person_id", "person", required=False, description="if known"),
        ),
        unique=("case_id",),
        location=(_POINT,),
        time_column="report_date",
        example={
            "case_id": "BN1234",
            "report_date": "2021-05-12",
            "onset_date": "2021-05-09",
            "lat": "21.1861",
            "lon": "106.0763",
            "commune_code": "",
            "address": "",
            "age": "34",
            "sex": "F",
            "source": "industrial_zone",
            "cluster_id": "KCN-QUANG-CHAU",
            "setting": "industrial_zone",
            "person_id": "027190001234",
        },
    ),
    FeedSchema(
        name="contacts",
        description="one traced contact (F1 of a case, F2 of an F1)",
        columns=(
            ColumnSpec("person_id", "person", description="the contact"),
            ColumnSpec("level", "category", allowed=CONTACT_LEVELS),
            ColumnSpec("source_id", "id", description="case_id (F1) or F1 person_id (F2)"),
            ColumnSpec("exposure_date", "date"),
            ColumnSpec("venue_id", "id", required=False, description="where exposed"),
            ColumnSpec("commune_code", "commune", required=False),
            ColumnSpec("address", "text", required=False),
            ColumnSpec("lat", "lat", required=False),
            ColumnSpec("lon", "lon", required=False),
        ),
        unique=("person_id", "level", "source_id"),
        location=(
            LocationSpec(
                lat="lat", lon="lon", commune="commune_code", address="address", required=False
            ),
        ),
        conditional_person_ids=(("source_id", "level", "F2"),),
        time_column="exposure_date",
        example={
            "person_id": "027190005678",
            "level": "F1",
            "source_id": "BN1234",
            "exposure_date": "2021-05-10",
            "venue_id": "V00042",
            "commune_code": "09163",
            "address": "",
            "lat": "",
            "lon": "",
        },
    ),
    FeedSchema(
        name="tests",
        description="one tested sample (possibly pooled)",
        columns=(
            ColumnSpec("sample_id", "id"),
            ColumnSpec("sample_date", "date"),
            ColumnSpec("result_date", "date"),
            ColumnSpec("result", "category", allowed=TEST_RESULTS),
            ColumnSpec("pool_size", "int", min_value=1, max_value=100, description="swabs"),
            ColumnSpec("commune_code", "commune", required=False),
            ColumnSpec("lat", "lat", required=False),
            ColumnSpec("lon", "lon", required=False),
            ColumnSpec("address", "text", required=False),
        ),
        unique=("sample_id",),
        location=(_POINT,),
        time_column="sample_date",
        example={
            "sample_id": "S-2021-000123",
            "sample_date": "2021-05-11",
            "result_date": "2021-05-12",
            "result": "negative",
            "pool_size": "10",
            "commune_code": "09166",
            "lat": "",
            "lon": "",
            "address": "",
        },
    ),
    FeedSchema(
        name="declarations",
        description="one health declaration",
        columns=(
            ColumnSpec("declaration_id", "id"),
            ColumnSpec("date", "date"),
            ColumnSpec("person_id", "person"),
            ColumnSpec("commune_code", "commune", required=False),
            ColumnSpec("address", "text", required=False),
            ColumnSpec("symptoms", "list", allowed=SYMPTOMS, description="';'-list or none"),
            ColumnSpec("recent_travel", "category", allowed=YES_NO),
        ),
        unique=("declaration_id",),
        location=(LocationSpec(commune="commune_code", address="address"),),
        example={
            "declaration_id": "D000001",
            "date": "2021-05-12",
            "person_id": "027190009876",
            "commune_code": "",
            "address": "Thôn Đông, xã Phù Chẩn, thị xã Từ Sơn, Bắc Ninh",
            "symptoms": "fever;cough",
            "recent_travel": "no",
        },
    ),
    FeedSchema(
        name="venues",
        description="one QR check-in venue",
        columns=(
            ColumnSpec("venue_id", "id"),
            ColumnSpec("name", "text"),
            ColumnSpec("venue_type", "category", allowed=VENUE_TYPES),
            ColumnSpec("lat", "lat"),
            ColumnSpec("lon", "lon"),
            ColumnSpec("industrial_zone", "text", required=False),
        ),
        unique=("venue_id",),
        location=(LocationSpec(lat="lat", lon="lon"),),
        time_column="",
        example={
            "venue_id": "V00042",
            "name": "Chợ Nhớn",
            "venue_type": "market",
            "lat": "21.1789",
            "lon": "106.0712",
            "industrial_zone": "",
        },
    ),
    FeedSchema(
        name="checkins",
        description="one QR check-in of a person at a venue",
        columns=(
            ColumnSpec("venue_id", "id"),
            ColumnSpec("person_id", "person"),
            ColumnSpec("timestamp", "timestamp"),
        ),
        unique=("venue_id", "person_id", "timestamp"),
        venue_column="venue_id",
        venue_required=True,
        time_column="timestamp",
        example={
            "venue_id": "V00042",
            "person_id": "027190005678",
            "timestamp": "2021-05-10T08:15:00+07:00",
        },
    ),
    FeedSchema(
        name="movements",
        description="one entry or domestic movement declaration",
        columns=(
            ColumnSpec("person_id", "person"),
            ColumnSpec("date", "date"),
            ColumnSpec("kind", "category", allowed=MOVEMENT_KINDS),
            ColumnSpec("origin", "origin", description="ISO country / province / commune"),
            ColumnSpec("destination_commune", "commune", required=False),
            ColumnSpec("destination_address", "text", required=False),
        ),
        unique=("person_id", "date", "kind", "origin"),
        location=(
            LocationSpec(
                commune="destination_commune",
                address="destination_address",
                output="destination_commune",
                required=False,
            ),
        ),
        example={
            "person_id": "027190004321",
            "date": "2021-05-08",
            "kind": "domestic",
            "origin": "01",
            "destination_commune": "09190",
            "destination_address": "",
        },
    ),
    FeedSchema(
        name="assessments",
        description="one 'An toàn COVID' venue self-assessment",
        columns=(
            ColumnSpec("venue_id", "id"),
            ColumnSpec("date", "date"),
            ColumnSpec("answers", "answers", description="';'-list criterion=yes/no"),
            ColumnSpec("score", "float", min_value=0, max_value=100),
        ),
        unique=("venue_id", "date"),
        venue_column="venue_id",
        venue_required=False,
        example={
            "venue_id": "V00042",
            "date": "2021-05-12",
            "answers": "masks=yes;distancing=yes;qr_checkin=no",
            "score": "67",
        },
    ),
    FeedSchema(
        name="feedback",
        description="one citizen feedback report",
        columns=(
            ColumnSpec("feedback_id", "id"),
            ColumnSpec("date", "date"),
            ColumnSpec("category", "category", allowed=FEEDBACK_CATEGORIES),
            ColumnSpec("text", "text", description="stays on the officials' side"),
            ColumnSpec("lat", "lat", required=False),
            ColumnSpec("lon", "lon", required=False),
            ColumnSpec("commune_code", "commune", required=False),
            ColumnSpec("address", "text", required=False),
        ),
        unique=("feedback_id",),
        location=(_POINT,),
        example={
            "feedback_id": "FB0001",
            "date": "2021-05-13",
            "category": "crowding",
            "text": "Chợ đông người, không đeo khẩu trang",
            "lat": "",
            "lon": "",
            "commune_code": "09172",
            "address": "",
        },
    ),
    FeedSchema(
        name="workers",
        description="one industrial-zone worker",
        columns=(
            ColumnSpec("person_id", "person"),
            ColumnSpec("industrial_zone", "text"),
            ColumnSpec("factory_id", "id"),
            ColumnSpec("factory_commune", "commune"),
            ColumnSpec("residence_commune", "commune", required=False),
            ColumnSpec("residence_address", "text", required=False),
        ),
        unique=("person_id", "factory_id"),
        location=(
            LocationSpec(
                commune="residence_commune",
                address="residence_address",
                output="residence_commune",
                required=False,
            ),
        ),
        time_column="",
        example={
            "person_id": "027190001111",
            "industrial_zone": "KCN Yên Phong",
            "factory_id": "F0007",
            "factory_commune": "09238",
            "residence_commune": "",
            "residence_address": "x. Dũng Liệt, h. Yên Phong",
        },
    ),
    FeedSchema(
        name="vaccinations",
        description="doses given (aggregated by date, commune and dose, or one row per dose)",
        columns=(
            ColumnSpec("date", "date"),
            ColumnSpec("commune_code", "commune"),
            ColumnSpec("dose", "int", min_value=1, max_value=3),
            ColumnSpec("count", "int", required=False, min_value=1, description="doses"),
            ColumnSpec("person_id", "person", required=False, description="per-person files"),
        ),
        unique=("date", "commune_code", "dose"),
        unique_per_person=("person_id", "dose"),
        location=(LocationSpec(commune="commune_code"),),
        example={"date": "2021-06-01", "commune_code": "09163", "dose": "1", "count": "240"},
    ),
    FeedSchema(
        name="workforce",
        description="health workforce of a facility by role, as of a date",
        columns=(
            ColumnSpec("facility_id", "id"),
            ColumnSpec("facility_name", "text"),
            ColumnSpec("commune_code", "commune"),
            ColumnSpec("role", "category", allowed=ROLES),
            ColumnSpec("staff", "int", min_value=0, max_value=100_000),
            ColumnSpec("date", "date"),
        ),
        unique=("facility_id", "role", "date"),
        location=(LocationSpec(commune="commune_code"),),
        example={
            "facility_id": "H027001",
            "facility_name": "Trạm Y tế phường Vũ Ninh",
            "commune_code": "09163",
            "role": "nurse",
            "staff": "6",
            "date": "2021-05-01",
        },
    ),
)

FEEDS: Mapping[str, FeedSchema] = MappingProxyType({s.name: s for s in _FEEDS})
"""The twelve feed schemas by name (read-only)."""

FEED_NAMES: tuple[str, ...] = tuple(FEEDS)
"""Feed names in documentation order."""
