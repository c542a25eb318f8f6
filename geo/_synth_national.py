"""National-volume synthetic feeds: venues and one day of check-ins, generated in chunks.

The province generator (:func:`geo.synth.synthesize`) simulates an epidemic and keeps its
population in memory; at national scale (10^8 check-ins a day) only volume matters, so this
module draws the two feeds the national path needs, venues (points, assigned to communes at
ingestion) and check-ins (venue, person, timestamp), chunk by chunk. Each chunk has its own
random stream (``SeedSequence(seed).spawn``), so chunks can be drawn in any order or in
parallel and the files are the same. Pure: the CLI (:mod:`geo._cli_synth`) writes them.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.schemas import VENUE_TYPES

#: seconds east of UTC of the check-in timestamps (Viet Nam)
_OFFSET = "+07:00"


def national_venues(
    communes: gpd.GeoDataFrame, n_venues: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Draw venues in proportion to commune population, uniformly inside each commune.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Boundary set in EPSG:4326 (index ``commune_code``, column ``population``).
    n_venues : int
        Venues to draw (>= 1).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        The venues feed: ``venue_id`` (``N0000001``...), ``name``, ``venue_type``, ``lat``,
        ``lon`` (6 decimals), ``industrial_zone`` (empty).

    Raises
    ------
    ValidationError
        When ``n_venues`` is not a positive integer or the set has no population.
    """
    if not isinstance(n_venues, int | np.integer) or n_venues < 1:
        raise ValidationError(f"n_venues: got {n_venues!r}; expected an integer >= 1 (e.g. 10000)")
    population = pd.to_numeric(communes["population"], errors="coerce").fillna(0).to_numpy()
    if population.sum() <= 0:
        raise ValidationError(
            "communes: column population sums to 0; expected people to place venues by; "
            "load a boundary set with populations"
        )
    commune = np.sort(
        rng.choice(len(communes), size=int(n_venues), p=population / population.sum())
    )
    lon, lat = _points_in(np.asarray(communes.geometry.values, dtype=object), commune, rng)
    types = np.asarray(VENUE_TYPES, dtype=object)[rng.integers(0, len(VENUE_TYPES), len(commune))]
    codes = communes.index.to_numpy(dtype=object)[commune]
    ids = np.char.add("N", np.char.zfill(np.arange(1, len(commune) + 1).astype(str), 7))
    return pd.DataFrame(
        {
            "venue_id": ids.astype(object),
            "name": np.char.add(np.char.add(types.astype(str), " "), codes.astype(str)).astype(
                object
            ),
            "venue_type": types,
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "industrial_zone": "",
        }
    )


def _points_in(
    geoms: np.ndarray, commune: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside ``geoms[commune]``: bounding-box draws, redrawn where outside."""
    bounds = shapely.bounds(geoms)[commune]
    lon = np.empty(len(commune))
    lat = np.empty(len(commune))
    todo = np.arange(len(commune))
    shapely.prepare(geoms)
    while len(todo):
        b = bounds[todo]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        # rounding to 6 decimals (as written) must not move a point out of its commune
        x, y = np.round(x, 6), np.round(y, 6)
        inside = shapely.contains_xy(geoms[commune[todo]], x, y)
        lon[todo[inside]] = x[inside]
        lat[todo[inside]] = y[inside]
        todo = todo[~inside]
    return lon, lat


def chunk_sizes(total_rows: int, chunk_rows: int) -> list[int]:
    """Split ``total_rows`` into chunks of ``chunk_rows`` (the last one shorter).

    Parameters
    ----------
    total_rows : int
        Rows in all (>= 1).
    chunk_rows : int
        Rows per chunk (>= 1).

    Returns
    -------
    list of int
        Chunk lengths, summing to ``total_rows``.

    Raises
    ------
    ValidationError
        When either count is below 1.
    """
    if total_rows < 1 or chunk_rows < 1:
        raise ValidationError(
            f"rows: got total {total_rows!r} and chunk {chunk_rows!r}; expected integers >= 1"
        )
    full, rest = divmod(int(total_rows), int(chunk_rows))
    return [int(chunk_rows)] * full + ([rest] if rest else [])


def checkins_chunk(
    venue_ids: np.ndarray,
    n_rows: int,
    day: date,
    n_people: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw ``n_rows`` check-ins of one local day at uniformly chosen venues.

    Parameters
    ----------
    venue_ids : numpy.ndarray
        Ids of the venues (strings), as in the venues feed.
    n_rows : int
        Check-ins to draw.
    day : datetime.date
        Local day of every timestamp (06:00 to 22:00, Viet Nam time).
    n_people : int
        App users: person ids are 12-digit strings below it.
    rng : numpy.random.Generator
        Source of randomness (one stream per chunk).

    Returns
    -------
    pandas.DataFrame
        ``venue_id``, ``person_id``, ``timestamp`` (ISO 8601 with ``+07:00``), as strings.
    """
    venue = np.asarray(venue_ids, dtype=object)[rng.integers(0, len(venue_ids), n_rows)]
    person = np.char.zfill(rng.integers(0, n_people, n_rows).astype(str), 12)
    seconds = rng.integers(6 * 3600, 22 * 3600, n_rows)
    stamps = np.datetime64(day.isoformat(), "s") + seconds.astype("timedelta64[s]")
    text = np.char.add(np.datetime_as_string(stamps, unit="s"), _OFFSET)
    return pd.DataFrame(
        {"venue_id": venue, "person_id": person.astype(object), "timestamp": text.astype(object)}
    )
