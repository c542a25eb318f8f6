"""The synthetic world: commune geometry, people (with citizen-id-like ids), venues, addresses."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._synth_params import IndustrialZone, PopulationParams
from geo.errors import ValidationError

UTM48N = "EPSG:32648"

# 3-digit CCCD province-of-registration codes (Circular 07/2016/TT-BCA): Bac Ninh first, then
# the provinces most zone workers come from.
CCCD_PROVINCES = np.array([27, 24, 1, 34, 36, 38, 40, 30, 20, 19])
RESIDENT_PROVINCE_P = np.array([0.86, 0.04, 0.02, 0.015, 0.015, 0.015, 0.01, 0.01, 0.01, 0.005])
WORKER_PROVINCE_P = np.array([0.55, 0.15, 0.03, 0.05, 0.05, 0.05, 0.05, 0.03, 0.02, 0.02])

# age bands and shares, Vietnam 2019 census (rounded)
AGE_EDGES = np.array([0, 15, 25, 45, 65, 90])
AGE_SHARES = np.array([0.24, 0.14, 0.33, 0.21, 0.08])

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
VENUE_TYPE_SHARES = np.array([0.08, 0.02, 0.06, 0.04, 0.12, 0.28, 0.14, 0.08, 0.02, 0.16])
# relative pull of one venue of each type on check-ins (factories are visited by their workers)
VENUE_TYPE_PULL = np.array([2.0, 2.0, 3.0, 3.0, 0.0, 1.0, 1.0, 0.7, 2.0, 0.8])
FACTORY = VENUE_TYPES.index("factory")

VILLAGES = ("Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Chùa", "Giữa", "Mới")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô")
GIVEN = ("Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Hoa", "Minh", "Thảo", "Nam")


@dataclass(frozen=True)
class Communes:
    """Commune attributes as arrays, in the order of the boundary set."""

    codes: np.ndarray  # str, 5-character GSO codes
    names: np.ndarray  # e.g. "Phù Chẩn"
    types: np.ndarray  # "Xã", "Phường", "Thị trấn"
    districts: np.ndarray  # e.g. "Thành phố Từ Sơn"
    population: np.ndarray  # persons, int64
    geoms: np.ndarray  # shapely geometries, EPSG:4326
    distance_km: np.ndarray  # centroid distances (n, n), UTM 48N
    name_shared: np.ndarray  # bool: another commune has the same name without diacritics

    @property
    def n(self) -> int:
        return len(self.codes)

    def index_of(self, code: str) -> int:
        hits = np.flatnonzero(self.codes == code)
        if len(hits) == 0:
            raise ValidationError(
                f"commune_code '{code}' is not in the boundary set; expected one of its 5-digit "
                "GSO codes; fix the parameter that names it"
            )
        return int(hits[0])


def communes_from_frame(communes: gpd.GeoDataFrame) -> Communes:
    """Check the boundary GeoDataFrame and turn it into arrays."""
    if not isinstance(communes, gpd.GeoDataFrame):
        raise ValidationError(
            f"communes is a {type(communes).__name__}; expected a GeoDataFrame indexed by "
            "commune_code; load it with boundaries.sets.load_boundary_set"
        )
    frame = communes
    if "commune_code" in frame.columns:
        frame = frame.set_index("commune_code")
    if "population" not in frame.columns and "population_2019" in frame.columns:
        frame = frame.rename(columns={"population_2019": "population"})
    missing = [c for c in ("commune_name", "population") if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"communes lacks column(s) {missing}; expected commune_name, population "
            "(or population_2019), geometry and a commune_code index"
        )
    if len(frame) == 0:
        raise ValidationError("communes is empty; expected at least one commune")
    if frame.crs is None:
        raise ValidationError("communes has no CRS; expected EPSG:4326; call set_crs(4326)")
    codes = np.asarray(frame.index.astype(str))
    bad = [c for c in codes if len(c) != 5 or not c.isdigit()]
    if bad:
        raise ValidationError(
            f"commune_code '{bad[0]}' is not a 5-digit string; expected e.g. '09163' "
            "(keep the leading zero)"
        )
    population = frame["population"].to_numpy(dtype=np.int64)
    if (population <= 0).any():
        raise ValidationError(
            f"commune {codes[np.argmax(population <= 0)]}: population is "
            f"{population.min()}; expected a positive count of persons"
        )
    wgs = frame.to_crs(4326)
    centroids = frame.geometry.to_crs(UTM48N).centroid
    xy = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()])
    distance_km = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)) / 1000.0
    types = (
        frame["commune_type"].astype(str).to_numpy()
        if "commune_type" in frame.columns
        else np.full(len(frame), "Xã", dtype=object)
    )
    districts = (
        frame["district_name"].astype(str).to_numpy()
        if "district_name" in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    geoms = np.asarray(wgs.geometry.values, dtype=object)
    shapely.prepare(geoms)
    names = frame["commune_name"].astype(str).to_numpy().astype(object)
    folded = pd.Series([strip_diacritics(str(n)).lower() for n in names])
    name_shared = folded.duplicated(keep=False).to_numpy()
    return Communes(
        codes=codes.astype(object),
        names=names,
        types=types.astype(object),
        districts=districts.astype(object),
        population=population,
        geoms=geoms,
        distance_km=distance_km,
        name_shared=name_shared,
    )


def sample_points(
    communes: Communes, commune_idx: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points (lon, lat) inside the given communes, by rejection."""
    lon = np.empty(len(commune_idx))
    lat = np.empty(len(commune_idx))
    for c in np.unique(commune_idx):
        rows = np.flatnonzero(commune_idx == c)
        geom = communes.geoms[c]
        minx, miny, maxx, maxy = geom.bounds
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        need = len(rows)
        while need > 0:
            k = max(16, need * 3)
            x = rng.uniform(minx, maxx, k)
            y = rng.uniform(miny, maxy, k)
            inside = shapely.contains_xy(geom, x, y)
            got_x.append(x[inside][:need])
            got_y.append(y[inside][:need])
            need -= int(min(inside.sum(), need))
        lon[rows] = np.concatenate(got_x)
        lat[rows] = np.concatenate(got_y)
    return np.round(lon, 6), np.round(lat, 6)


def strip_diacritics(text: str) -> str:
    """ASCII-fold Vietnamese text as people type it without an IME ("Đình Bảng" -> "Dinh Bang")."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def make_address(communes: Communes, c: int, rng: np.random.Generator) -> str:
    """A free-text residence address in commune ``c``, in one of the forms people write."""
    ctype = str(communes.types[c])
    name = str(communes.names[c])
    district = str(communes.districts[c])
    if ctype == "Phường" or ctype == "Thị trấn":
        place = f"Khu phố {rng.integers(1, 12)}"
    else:
        place = f"{rng.choice(['Thôn', 'Xóm', 'Thôn'])} {rng.choice(VILLAGES)}"
    prefixes = {
        "Xã": ["xã", "X.", "Xã", "x."],
        "Phường": ["phường", "P.", "Phường", "p."],
        "Thị trấn": ["thị trấn", "TT.", "TT", "Thị trấn"],
    }.get(ctype, [""])
    prefix = str(rng.choice(prefixes))
    short_district = district
    for word in ("Thành phố ", "Huyện ", "Thị xã "):
        short_district = short_district.replace(word, "")
    district_form = str(
        rng.choice([district.lower().capitalize(), f"H. {short_district}", short_district])
        if district.startswith("Huyện")
        else rng.choice([district, f"TP {short_district}", f"TP. {short_district}", short_district])
    )
    province = str(rng.choice(["Bắc Ninh", "tỉnh Bắc Ninh", "Bắc Ninh", "BN"]))
    parts = [place, f"{prefix} {name}".strip()]
    # the district is left out sometimes, never where the name alone would be ambiguous
    # (Phù Lương / Phú Lương typed without diacritics, Ninh Xá in two districts)
    if communes.name_shared[c] or rng.random() < 0.85:
        parts.append(district_form)
    parts.append(province)
    text = ", ".join(parts)
    if rng.random() < 0.2:
        text = strip_diacritics(text)
    if rng.random() < 0.1:
        text = text.lower()
    return text


@dataclass
class People:
    """The synthetic persons: app users first, then persons added along the way."""

    ids: list[np.ndarray] = field(default_factory=list)
    home: list[np.ndarray] = field(default_factory=list)
    age: list[np.ndarray] = field(default_factory=list)
    sex: list[np.ndarray] = field(default_factory=list)  # 0 male, 1 female
    used: set[int] = field(default_factory=set)
    count: int = 0

    def add(
        self,
        home: np.ndarray,
        age: np.ndarray,
        sex: np.ndarray,
        province_p: np.ndarray,
        year: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Append persons; returns their indices. Ids follow the 12-digit CCCD layout."""
        n = len(home)
        province = rng.choice(CCCD_PROVINCES, size=n, p=province_p)
        born = year - age
        century_sex = np.where(born >= 2000, 2, 0) + sex
        prefix = (
            province.astype(np.int64) * 1_000_000_000
            + century_sex.astype(np.int64) * 100_000_000
            + (born % 100).astype(np.int64) * 1_000_000
        )
        ids = prefix + rng.integers(0, 1_000_000, size=n)
        # redraw the serial part of ids already taken (rare)
        while True:
            _, first = np.unique(ids, return_index=True)
            dup = np.ones(n, dtype=bool)
            dup[first] = False
            taken = np.fromiter((int(v) in self.used for v in ids), dtype=bool, count=n)
            bad = dup | taken
            if not bad.any():
                break
            ids[bad] = prefix[bad] + rng.integers(0, 1_000_000, size=int(bad.sum()))
        self.used.update(int(v) for v in ids)
        self.ids.append(ids)
        self.home.append(np.asarray(home, dtype=np.int64))
        self.age.append(np.asarray(age, dtype=np.int64))
        self.sex.append(np.asarray(sex, dtype=np.int64))
        start = self.count
        self.count += n
        return np.arange(start, self.count)

    def frozen(self) -> dict[str, np.ndarray]:
        return {
            "ids": np.concatenate(self.ids) if self.ids else np.empty(0, np.int64),
            "home": np.concatenate(self.home) if self.home else np.empty(0, np.int64),
            "age": np.concatenate(self.age) if self.age else np.empty(0, np.int64),
            "sex": np.concatenate(self.sex) if self.sex else np.empty(0, np.int64),
        }


def sample_ages(n: int, rng: np.random.Generator, low: int = 0, high: int = 90) -> np.ndarray:
    """Ages in years from the census pyramid, restricted to [low, high)."""
    band = rng.choice(len(AGE_SHARES), size=n, p=AGE_SHARES)
    age = rng.integers(AGE_EDGES[band], AGE_EDGES[band + 1])
    return np.clip(age, low, high - 1)


def ids_to_str(ids: np.ndarray) -> np.ndarray:
    """12-digit zero-padded strings."""
    return np.char.zfill(ids.astype(str), 12).astype(object)


@dataclass(frozen=True)
class Venues:
    """Venues as arrays; ``zone`` is -1 outside the industrial zones."""

    ids: np.ndarray
    names: np.ndarray
    types: np.ndarray  # index into VENUE_TYPES
    commune: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    zone: np.ndarray


def make_venues(
    communes: Communes,
    zones: tuple[IndustrialZone, ...],
    scale: float,
    params: PopulationParams,
    rng: np.random.Generator,
) -> Venues:
    """Place ``round(venues_at_scale_1 * scale)`` venues (at least ``min_venues``)."""
    n = max(params.min_venues, round(params.venues_at_scale_1 * scale))
    types = rng.choice(len(VENUE_TYPES), size=n, p=VENUE_TYPE_SHARES)
    if not zones:  # a boundary set without industrial zones: no factories
        types = np.where(types == FACTORY, VENUE_TYPES.index("other"), types)
    # at least one factory per zone, so every zone can employ workers
    n_factory = max(int((types == FACTORY).sum()), len(zones)) if zones else 0
    others = types[types != FACTORY][: n - n_factory]
    types = np.concatenate([np.full(n_factory, FACTORY), others])
    commune = np.empty(n, dtype=np.int64)
    zone = np.full(n, -1, dtype=np.int64)
    zone_workers = np.array([z.workers for z in zones], dtype=float)
    fz = np.concatenate(
        [
            np.arange(len(zones)),
            rng.choice(len(zones), n_factory - len(zones), p=zone_workers / zone_workers.sum())
            if zones
            else np.empty(0, np.int64),
        ]
    ).astype(np.int64)
    zone[:n_factory] = fz
    for i, z in enumerate(fz):
        hosts = zones[z].host_communes
        commune[i] = communes.index_of(str(hosts[rng.integers(len(hosts))]))
    pop_p = communes.population / communes.population.sum()
    commune[n_factory:] = rng.choice(communes.n, size=n - n_factory, p=pop_p)
    lon, lat = sample_points(communes, commune, rng)
    names = np.array(
        [
            venue_name(VENUE_TYPES[t], str(communes.names[c]), i, rng)
            for i, (t, c) in enumerate(zip(types, commune, strict=True))
        ],
        dtype=object,
    )
    ids = np.array([f"V{i + 1:06d}" for i in range(n)], dtype=object)
    return Venues(ids=ids, names=names, types=types, commune=commune, lon=lon, lat=lat, zone=zone)


def venue_name(kind: str, commune_name: str, i: int, rng: np.random.Generator) -> str:
    """A plausible Vietnamese venue name."""
    person = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
    options = {
        "school": [
            f"Trường {lvl} {commune_name}" for lvl in ("Mầm non", "Tiểu học", "THCS", "THPT")
        ],
        "hospital": [f"Trạm y tế {commune_name}", f"Phòng khám đa khoa {commune_name}"],
        "market": [f"Chợ {commune_name}", f"Chợ {rng.choice(VILLAGES)} {commune_name}"],
        "supermarket": [
            f"Siêu thị {b} {commune_name}" for b in ("WinMart+", "Bách hóa Xanh", "Mini")
        ],
        "factory": [f"Nhà máy linh kiện điện tử số {i + 1}", f"Công ty TNHH sản xuất {i + 1}"],
        "restaurant": [f"Quán {d} {person}" for d in ("phở", "bún chả", "cơm", "cà phê", "lẩu")],
        "office": [
            f"UBND {commune_name}",
            f"Văn phòng công ty {person}",
            f"Ngân hàng {commune_name}",
        ],
        "religious": [
            f"Chùa {commune_name}",
            f"Đình {rng.choice(VILLAGES)}",
            f"Nhà thờ {commune_name}",
        ],
        "transport": [f"Bến xe {commune_name}", f"Ga {commune_name}", f"Trạm dừng {commune_name}"],
        "other": [f"Tạp hóa {person}", f"Tiệm cắt tóc {person}", f"Nhà văn hóa {commune_name}"],
    }[kind]
    return str(options[rng.integers(len(options))])


def venues_to_frame(venues: Venues, zones: tuple[IndustrialZone, ...]) -> pd.DataFrame:
    """The ``venues`` feed."""
    zone_names = np.array([z.name for z in zones] + [None], dtype=object)
    return pd.DataFrame(
        {
            "venue_id": venues.ids,
            "name": venues.names,
            "venue_type": np.asarray(VENUE_TYPES, dtype=object)[venues.types],
            "lat": venues.lat,
            "lon": venues.lon,
            "industrial_zone": zone_names[venues.zone],
        }
    )
