"""Match free-text Vietnamese residence addresses to communes.

People type an address from the smallest unit to the largest (house, hamlet or street,
commune, district, province), with or without diacritics, type words ("xã", "P.", "TT"),
commas or case, and with typos. :func:`match_address` reads it from the right: it drops
the country and the province, finds the district, then the commune named just before it,
and answers ``matched`` only when exactly one commune fits. Everything else is rejected
with a status (``ambiguous``, ``unknown``, ``empty``), the candidate codes and a reason, so
an official can fix the row; nothing is guessed. The rules are described in
``docs/addresses.md``.

All functions are pure (no I/O): build a :class:`Gazetteer` once from a commune table
with :func:`build_gazetteer`, then call :func:`match_address` or the batch version
:func:`match_addresses`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal, NamedTuple

import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from geo.errors import AddressError

__all__ = [
    "AddressMatch",
    "Gazetteer",
    "build_gazetteer",
    "match_address",
    "match_addresses",
    "normalize_vietnamese",
]

Status = Literal["matched", "ambiguous", "unknown", "empty"]
RESULT_COLUMNS = ("address", "commune_code", "commune_name", "status", "candidates")

# ---------------------------------------------------------------------------- text tables

#: tone marks (removed when comparing tone-insensitively) and vowel-quality marks
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _build_fold_table() -> dict[int, str | None]:
    """Map every precomposed Latin letter to its base letter; drop combining marks."""
    table: dict[int, str | None] = {}
    for code in range(0x00C0, 0x1EFF + 1):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        if base != char and base.isascii() and base.isalpha():
            table[code] = base.lower()
    for code in range(0x0300, 0x0370):
        table[code] = None
    table[ord("đ")] = "d"
    table[ord("Đ")] = "d"
    return table


_FOLD = MappingProxyType(_build_fold_table())
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"[^\W_]+")

#: type words before a commune name -> the commune_type they imply (None: any type)
_COMMUNE_MARKERS: Mapping[str, str | None] = MappingProxyType(
    {
        "xa": "xa",
        "x": "xa",
        "phuong": "phuong",
        "p": "phuong",
        "f": "phuong",
        "thi tran": "thi tran",
        "tt": "thi tran",
        "thitran": "thi tran",
        "t tran": "thi tran",
    }
)
_DISTRICT_MARKERS = frozenset(
    {
        "huyen",
        "h",
        "thi xa",
        "thixa",
        "tx",
        "thanh pho",
        "thanhpho",
        "tp",
        "q",
        "quan",
    }
)
_PROVINCE_MARKERS = frozenset({"tinh", "t"})
#: words that open a part below the commune (hamlet, street, house); the words after them
#: up to the next comma or type word name that part, not the commune
_BELOW_MARKERS = frozenset(
    {
        "thon",
        "xom",
        "khu pho",
        "kp",
        "khu",
        "to dan pho",
        "tdp",
        "to",
        "so nha",
        "sn",
        "so",
        "duong",
        "d",
        "pho",
        "ngo",
        "ngach",
        "hem",
        "kiet",
        "ap",
        "cum",
        "doi",
        "khu dan cu",
        "kdc",
        "khu do thi",
        "kdt",
        "khu cong nghiep",
        "kcn",
        "chung cu",
        "can ho",
        "toa nha",
    }
)
#: short words that open a part below the commune only before a number ("tổ 5", "số 12"):
#: elsewhere they are ordinary syllables ("Lý Thái Tổ")
_NUMBER_MARKERS = frozenset({"to", "so", "doi", "cum"})
#: district/province words that are also common syllables of hamlet names; before a
#: commune name they are read as syllables. After the others ("H. Thua Thanh") a commune
#: name is a misspelt district, not the commune.
_SYLLABLE_MARKERS = frozenset({"q", "quan", "t", "tinh"})
_MARKER_KIND: Mapping[str, str] = MappingProxyType(
    {
        **{m: "commune" for m in _COMMUNE_MARKERS},
        **{m: "district" for m in _DISTRICT_MARKERS},
        **{m: "province" for m in _PROVINCE_MARKERS},
        **{m: "below" for m in _BELOW_MARKERS},
    }
)
_MAX_MARKER = max(m.count(" ") + 1 for m in _MARKER_KIND)
_MARKER_FIRST = frozenset(m.split()[0] for m in _MARKER_KIND)
#: type words stripped from a district_name to get the name people type
_DISTRICT_TYPES = ("huyen", "thanh pho", "thi xa", "quan")

#: Vietnamese provinces and centrally-run cities, before and after the July 2025 merger;
#: a national reference list (not province-specific), used to recognise the province part
VIETNAM_PROVINCES = (
    "An Giang", "Bà Rịa Vũng Tàu", "Bà Rịa", "Vũng Tàu", "Bạc Liêu", "Bắc Giang", "Bắc Kạn",
    "Bắc Ninh", "Bến Tre", "Bình Dương", "Bình Định", "Bình Phước", "Bình Thuận", "Cà Mau",
    "Cao Bằng", "Cần Thơ", "Đà Nẵng", "Đắk Lắk", "Đắk Nông", "Điện Biên", "Đồng Nai",
    "Đồng Tháp", "Gia Lai", "Hà Giang", "Hà Nam", "Hà Nội", "Hà Tĩnh", "Hải Dương",
    "Hải Phòng", "Hậu Giang", "Hòa Bình", "Hưng Yên", "Khánh Hòa", "Kiên Giang", "Kon Tum",
    "Lai Châu", "Lâm Đồng", "Lạng Sơn", "Lào Cai", "Long An", "Nam Định", "Nghệ An",
    "Ninh Bình", "Ninh Thuận", "Phú Thọ", "Phú Yên", "Quảng Bình", "Quảng Nam", "Quảng Ngãi",
    "Quảng Ninh", "Quảng Trị", "Sóc Trăng", "Sơn La", "Tây Ninh", "Thái Bình", "Thái Nguyên",
    "Thanh Hóa", "Thừa Thiên Huế", "Huế", "Tiền Giang", "Hồ Chí Minh", "Sài Gòn", "HCM",
    "Trà Vinh", "Tuyên Quang", "Vĩnh Long", "Vĩnh Phúc", "Yên Bái",
)  # fmt: skip
_COUNTRY_NAMES = ("Việt Nam", "Vietnam", "VN")

# roles of a name key (bit flags)
_COMMUNE, _DISTRICT, _PROVINCE, _COUNTRY = 1, 2, 4, 8


def normalize_vietnamese(text: str) -> str:
    """Fold a Vietnamese string to lower-case ASCII words separated by single spaces.

    Parameters
    ----------
    text : str
        Any text, precomposed (NFC) or decomposed (NFD).

    Returns
    -------
    str
        Lower case, diacritics removed (``đ`` becomes ``d``), every run of characters
        other than ``a-z0-9`` replaced by one space, no leading or trailing space.

    Examples
    --------
    >>> normalize_vietnamese("  P. Vũ Ninh,  TP. Bắc Ninh ")
    'p vu ninh tp bac ninh'
    >>> normalize_vietnamese("Đồng Kỵ")
    'dong ky'
    """
    folded = unicodedata.normalize("NFC", text).lower().translate(_FOLD)
    return _NOT_WORD.sub(" ", folded).strip()


# ---------------------------------------------------------------------------- gazetteer


@dataclass(frozen=True, eq=False)
class Gazetteer:
    """Normalised name tables of one boundary set (immutable; build with :func:`build_gazetteer`).

    Attributes
    ----------
    codes : tuple of str
        Commune codes in the order of the source table.
    commune_names, commune_types, district_names : Mapping[str, str]
        Display name, type and district (``""`` when the set has no districts) per code.
    name_codes : Mapping[str, tuple of str]
        Normalised commune name -> codes bearing it (several when a name repeats).
    district_keys : Mapping[str, tuple of str]
        Normalised district name without its type word -> district names.
    roles : Mapping[str, int]
        Every known name key -> bit flags (commune, district, province, country).
    own_provinces : frozenset of str
        Normalised names of the province(s) the set covers (empty when not given).
    lower_names : Mapping[str, str]
        Code -> its name in lower case with its marks (to compare the marks typed).
    marked_names : Mapping[str, frozenset of str]
        Commune name key -> the names bearing it, lower case with their marks.
    prefixes : frozenset of str
        Every leading run of words of every known name (to stop looking early).
    district_firsts : frozenset of str
        First words of the district names.
    keys_in_district : Mapping[str, tuple of str]
        District name -> the commune name keys in it (``""``: all keys).
    near_keys : Mapping[str, tuple of str]
        Commune name key -> other commune name keys one edit away, or containing it.
    max_words : int
        Longest name, in words.
    """

    codes: tuple[str, ...]
    commune_names: Mapping[str, str]
    commune_types: Mapping[str, str]
    district_names: Mapping[str, str]
    name_codes: Mapping[str, tuple[str, ...]]
    district_keys: Mapping[str, tuple[str, ...]]
    roles: Mapping[str, int]
    own_provinces: frozenset[str]
    lower_names: Mapping[str, str]
    marked_names: Mapping[str, frozenset[str]]
    prefixes: frozenset[str]
    district_firsts: frozenset[str]
    keys_in_district: Mapping[str, tuple[str, ...]]
    near_keys: Mapping[str, tuple[str, ...]]
    max_words: int

    def describe(self, code: str) -> str:
        """Return ``"09163 Phường Vũ Ninh (Thành phố Bắc Ninh)"`` for a commune code.

        Parameters
        ----------
        code : str
            A code of this gazetteer.

        Returns
        -------
        str
            Code, type, name and, when the set has districts, the district in brackets.
        """
        text = f"{code} {self.commune_types[code]} {self.commune_names[code]}".replace("  ", " ")
        district = self.district_names[code]
        return f"{text} ({district})" if district else text


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if value is pd.NA:
        return ""
    return str(value).strip()


def _strip_type(key: str, types: Sequence[str]) -> str:
    for word in types:
        if key.startswith(word + " ") and len(key) > len(word) + 1:
            return key[len(word) + 1 :]
    return key


def build_gazetteer(communes: pd.DataFrame, *, province_names: Sequence[str] = ()) -> Gazetteer:
    """Build the name tables used by :func:`match_address` from a commune table.

    Parameters
    ----------
    communes : pandas.DataFrame
        Indexed by ``commune_code`` (5-character strings such as ``"09163"``) with columns
        ``commune_name`` (``"Vũ Ninh"``), ``commune_type`` (``"Phường"``, ``"Xã"``, ``"Thị
        trấn"``) and ``district_name`` (``"Thành phố Bắc Ninh"``; empty or missing for sets
        without districts). A GeoDataFrame from ``boundaries.sets.load_boundary_set`` works
        as is; an optional ``province_name`` column names the province.
    province_names : sequence of str, optional
        Names of the province(s) the set covers (``["Bắc Ninh"]``). When known, an address
        ending in another province is rejected as outside the set.

    Returns
    -------
    Gazetteer
        Immutable name tables.

    Raises
    ------
    AddressError
        When a column is missing, a code is not a 5-character string or repeats, or a
        commune name is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"commune_name": ["Vũ Ninh"], "commune_type": ["Phường"],
    ...      "district_name": ["Thành phố Bắc Ninh"]},
    ...     index=pd.Index(["09163"], name="commune_code"))
    >>> match_address("p. vu ninh, tp bac ninh", build_gazetteer(table)).commune_code
    '09163'
    """
    missing = [c for c in ("commune_name", "commune_type") if c not in communes.columns]
    if missing:
        raise AddressError(
            f"commune table: missing column(s) {missing}; got {list(communes.columns)}; "
            "expected commune_name, commune_type and optionally district_name, indexed by "
            "commune_code (load it with boundaries.sets.load_boundary_set)"
        )
    codes: list[str] = []
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    districts: dict[str, str] = {}
    has_district = "district_name" in communes.columns
    provinces = [_clean_text(p) for p in province_names]
    if "province_name" in communes.columns:
        provinces += [_clean_text(p) for p in communes["province_name"].unique()]
    for row, code in enumerate(communes.index, start=1):
        if not isinstance(code, str) or len(code) != 5 or not code.isdigit():
            raise AddressError(
                f"commune table row {row}: commune_code {code!r} is not a 5-character "
                "string of digits; expected a GSO code such as '09163' (read codes as "
                "strings so the leading zero stays)"
            )
        if code in names:
            raise AddressError(
                f"commune table row {row}: commune_code {code!r} appears twice; expected "
                "one row per commune; remove the duplicate"
            )
        raw_name = communes["commune_name"].iloc[row - 1]
        name = _clean_text(raw_name)
        if not normalize_vietnamese(name):
            raise AddressError(
                f"commune table row {row} (commune_code {code}): commune_name {raw_name!r} is "
                "empty; expected the commune name such as 'Vũ Ninh'; fill it in"
            )
        codes.append(code)
        names[code] = name
        types[code] = _clean_text(communes["commune_type"].iloc[row - 1])
        districts[code] = (
            _clean_text(communes["district_name"].iloc[row - 1]) if has_district else ""
        )

    name_codes: dict[str, list[str]] = {}
    for code in codes:
        key = normalize_vietnamese(names[code])
        name_codes.setdefault(key, []).append(code)
    district_keys: dict[str, list[str]] = {}
    for district in sorted(set(districts.values()) - {""}):
        key = _strip_type(normalize_vietnamese(district), _DISTRICT_TYPES)
        district_keys.setdefault(key, []).append(district)

    roles: dict[str, int] = {}
    for key in name_codes:
        roles[key] = roles.get(key, 0) | _COMMUNE
    for key in district_keys:
        roles[key] = roles.get(key, 0) | _DISTRICT
    own = frozenset(
        _strip_type(normalize_vietnamese(p), ("tinh", "thanh pho")) for p in provinces if p
    )
    for province in (*VIETNAM_PROVINCES, *provinces):
        key = _strip_type(normalize_vietnamese(province), ("tinh", "thanh pho"))
        if key:
            roles[key] = roles.get(key, 0) | _PROVINCE
    for country in _COUNTRY_NAMES:
        key = normalize_vietnamese(country)
        roles[key] = roles.get(key, 0) | _COUNTRY

    near: dict[str, list[str]] = {key: [] for key in name_codes}
    keys = list(name_codes)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            close = OSA.distance(a, b, score_cutoff=1) <= 1
            contains = f" {a} " in f" {b} " or f" {b} " in f" {a} "
            if close or contains:
                near[a].append(b)
                near[b].append(a)

    in_district: dict[str, tuple[str, ...]] = {"": tuple(name_codes)}
    for district in set(districts.values()) - {""}:
        in_district[district] = tuple(
            k for k, v in name_codes.items() if any(districts[c] == district for c in v)
        )
    lower = {
        c: " ".join(_TOKEN.findall(unicodedata.normalize("NFC", names[c]).lower())) for c in codes
    }
    return Gazetteer(
        codes=tuple(codes),
        commune_names=MappingProxyType(names),
        commune_types=MappingProxyType(types),
        district_names=MappingProxyType(districts),
        name_codes=MappingProxyType({k: tuple(v) for k, v in name_codes.items()}),
        district_keys=MappingProxyType({k: tuple(v) for k, v in district_keys.items()}),
        roles=MappingProxyType(roles),
        own_provinces=own,
        lower_names=MappingProxyType(lower),
        marked_names=MappingProxyType(
            {k: frozenset(lower[c] for c in v) for k, v in name_codes.items()}
        ),
        prefixes=frozenset(
            " ".join(key.split()[:size]) for key in roles for size in range(1, key.count(" ") + 2)
        ),
        district_firsts=frozenset(key.split()[0] for key in district_keys),
        keys_in_district=MappingProxyType(in_district),
        near_keys=MappingProxyType({k: tuple(v) for k, v in near.items()}),
        max_words=max(len(k.split()) for k in roles),
    )


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class AddressMatch:
    """The result of matching one address.

    Attributes
    ----------
    address : str
        The address as given.
    commune_code, commune_name : str or None
        The commune, when ``status == "matched"``.
    status : {"matched", "ambiguous", "unknown", "empty"}
        ``ambiguous``: several communes fit; ``unknown``: none does (or the address lies
        outside the set, or names only a district); ``empty``: no words at all.
    candidates : tuple of str
        Codes to choose from when rejected (all fitting communes when ambiguous, up to 3
        closest names when unknown); empty when matched.
    reason : str
        Why, in words an official can act on.
    """

    address: str
    commune_code: str | None
    commune_name: str | None
    status: Status
    candidates: tuple[str, ...]
    reason: str


class _Hit(NamedTuple):
    start: int
    end: int
    key: str
    roles: int
    marker: str | None  # kind of the type word just before: commune/district/province/below
    marker_type: str | None  # commune type implied by a commune marker


class _Parsed(NamedTuple):
    words: tuple[str, ...]  # folded words
    accented: tuple[str, ...]  # the same words, lower case with their marks
    segments: tuple[int, ...]  # segment number of each word
    hits: tuple[_Hit, ...]
    markers: tuple[tuple[int, int, str], ...]  # (start, end, kind) of free type words
    below: tuple[tuple[int, int, bool], ...]  # (start, stop, numbered) of hamlet/street parts
    kinds: tuple[int, ...]  # per word: 0 plain, 1 inside a name, 2 type word, 3 number


#: one pass over folded text: a word, or a segment break
_SCAN = re.compile(r"([a-z0-9]+)|[,;|/\\()\[\]\n\r\t]+|\s-+\s")
_MIXED = re.compile(r"[a-z][0-9]|[0-9][a-z]")
_DIGITS = re.compile(r"[0-9]+")


def _tokenize(address: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    text = unicodedata.normalize("NFC", address).lower()
    if text.isascii():
        folded = text
    else:
        if "\u2013" in text or "\u2014" in text:
            text = text.replace("\u2013", "-").replace("\u2014", "-")
        # NFD then dropping non-ASCII removes the marks and keeps one letter per letter
        folded = (
            unicodedata.normalize("NFD", text.replace("đ", "d"))
            .encode("ascii", "ignore")
            .decode("ascii")
        )
        if len(folded) != len(text):  # letters outside Vietnamese: fold one by one
            folded = "".join(
                c if c.isascii() else (c.translate(_FOLD) if ord(c) in _FOLD else " ") for c in text
            )
            folded = "".join(c if len(c) == 1 else " " for c in folded)
            if len(folded) != len(text):
                folded = " " * len(text)
    words: list[str] = []
    accented: list[str] = []
    segments: list[int] = []
    segment = 0
    mixed = _MIXED.search(folded) is not None
    for match in _SCAN.finditer(folded):
        word = match.group(1)
        if word is None:
            segment += 1
            continue
        start, end = match.span()
        raw = text[start:end]
        if mixed and not (word.isalpha() or word.isdigit()):
            for part in re.finditer(r"[a-z]+|[0-9]+", word):
                words.append(part.group())
                accented.append(raw[part.start() : part.end()])
                segments.append(segment)
            continue
        words.append(word)
        accented.append(raw)
        segments.append(segment)
    if folded is text:
        return tuple(words), tuple(words), tuple(segments)  # the same object: no marks
    return tuple(words), tuple(accented), tuple(segments)


def _agrees(accented: Sequence[str], start: int, end: int, key: str, gaz: Gazetteer) -> bool:
    """Whether the marks typed on words ``start:end`` fit the commune name ``key``.

    Words typed without marks always fit; "Trưng xã" does not fit "Trừng Xá", so "phố Hai
    Bà Trưng xã Dũng Liệt" is not read as naming Trừng Xá. Non-commune names always fit.
    """
    names = gaz.marked_names.get(key)
    if names is None:
        return True
    typed = " ".join(accented[start:end])
    if typed.isascii() or typed in names:
        return True
    return any(_compatible(typed, name) for name in names)


def _tail_starts_place(
    words: Sequence[str],
    segments: Sequence[int],
    start: int,
    end: int,
    roles: Mapping[str, int],
    district_firsts: frozenset[str],
) -> bool:
    """Whether the end of the name at ``start:end`` begins a district name."""
    for k in range(start + 1, end):
        if words[k] not in district_firsts:
            continue
        key = " ".join(words[k:end])
        for extra in range(end, min(end + 2, len(words))):
            if segments[extra] != segments[start]:
                break
            key = key + " " + words[extra]
            role = roles.get(key, 0)
            if role & _DISTRICT and not role & _COMMUNE:
                return True
    return False


def _parse(address: str, gaz: Gazetteer) -> _Parsed:
    return _parse_tokens(*_tokenize(address), gaz)


def _parse_tokens(
    words: tuple[str, ...], accented: tuple[str, ...], segments: tuple[int, ...], gaz: Gazetteer
) -> _Parsed:
    n = len(words)
    roles = gaz.roles
    prefixes = gaz.prefixes
    check_marks = accented is not words
    taken = [False] * n
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < n:  # names: longest match from the left
        word = words[i]
        if word in prefixes:
            fits = word in roles and (not check_marks or _agrees(accented, i, i + 1, word, gaz))
            best = (i + 1, word) if fits else None
            key = word
            j = i + 1
            while j < n and segments[j] == segments[i]:
                key = key + " " + words[j]
                if key not in prefixes:
                    break
                j += 1
                if key in roles and (not check_marks or _agrees(accented, i, j, key, gaz)):
                    best = (j, key)
            if best is not None and roles[best[1]] & _COMMUNE:
                # "Đông Tiến Du": the tail and the next word make the district "Tiên Du";
                # leave the words free so the district wins and "Đông" stays open
                if _tail_starts_place(words, segments, i, best[0], roles, gaz.district_firsts):
                    i += 1
                    continue
            if best is not None:
                spans.append((i, best[0], best[1]))
                for k in range(i, best[0]):
                    taken[k] = True
                i = best[0]
                continue
        i += 1
    markers: list[tuple[int, int, str]] = []
    i = 0
    while i < n:  # type words among the remaining words
        found = None
        if not taken[i] and words[i] in _MARKER_FIRST:
            key = ""
            j = i
            while j < n and j - i < _MAX_MARKER and not taken[j] and segments[j] == segments[i]:
                key = words[j] if j == i else key + " " + words[j]
                j += 1
                kind = _MARKER_KIND.get(key)
                if kind is not None and key in _NUMBER_MARKERS:
                    kind = kind if j < n and words[j].isdigit() else None
                if kind is not None:
                    found = (i, j, kind)
        if (
            found is not None
            and found[2] == "below"
            and markers
            and markers[-1][1] == i
            and markers[-1][2] == "commune"
            and segments[i - 1] == segments[i]
        ):
            found = None  # "TT. Phố Mới": after xã/phường/TT the words name the commune
        if found is None:
            i += 1
        else:
            markers.append(found)
            i = found[1]
    marker_end = {end: (start, kind) for start, end, kind in markers}
    hits = []
    for start, end, key in spans:
        kind = None
        marker_type = None
        before = marker_end.get(start)
        if before is not None and segments[before[0]] == segments[start]:
            kind = before[1]
            marker_word = " ".join(words[before[0] : start])
            if roles[key] == _COMMUNE and (kind == "province" or marker_word in _SYLLABLE_MARKERS):
                kind = None  # "Quan", "T" before a commune name: a syllable, not "quận"
            elif kind == "commune" and not roles[key] & _COMMUNE:
                kind = None  # "Nnih Xa Bac Ninh": the "xa" ends a misspelt name
            if kind == "commune":
                marker_type = _COMMUNE_MARKERS[marker_word]
        hits.append(_Hit(start, end, key, roles[key], kind, marker_type))
    below: list[tuple[int, int, bool]] = []
    if any(kind == "below" for _, _, kind in markers):
        # a hamlet/street part runs to the next comma, type word, or a name that can only
        # be a district or province
        stops = {start for start, _, _ in markers}
        hard = {h.start for h in hits if h.roles & (_DISTRICT | _PROVINCE)}
        for start, end, kind in markers:
            if kind != "below":
                continue
            begin = end
            while begin < n and words[begin].isdigit() and segments[begin] == segments[start]:
                begin += 1
            stop = begin
            while (
                stop < n
                and segments[stop] == segments[start]
                and stop not in stops
                and stop not in hard
            ):
                stop += 1
            below.append((begin, stop, begin > end))
    kinds = [1 if t else 3 if w.isdigit() else 0 for t, w in zip(taken, words, strict=True)]
    for start, end, _ in markers:
        for k in range(start, end):
            kinds[k] = 2
    return _Parsed(
        words, accented, segments, tuple(hits), tuple(markers), tuple(below), tuple(kinds)
    )


def _result(
    address: str,
    status: Status,
    gaz: Gazetteer,
    candidates: Sequence[str] = (),
    reason: str = "",
) -> AddressMatch:
    if status == "matched":
        code = candidates[0]
        return AddressMatch(address, code, gaz.commune_names[code], status, (), reason)
    return AddressMatch(address, None, None, status, tuple(dict.fromkeys(candidates)), reason)


def _split_tone(word: str) -> tuple[str, str]:
    tones = ""
    kept = []
    for char in unicodedata.normalize("NFD", word):
        if char in _TONE_MARKS:
            tones += char
        else:
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)), tones


def _compatible(typed: str, name: str) -> bool:
    """Whether the marks typed agree with the name (missing marks always agree).

    ``"Đai Bai"`` and ``"dại bái"`` agree with ``"Đại Bái"``; ``"Đại Lái"`` does not agree
    with ``"Đại Lai"``, nor ``"chợ"`` with ``"Chờ"``.
    """
    typed_words = typed.split()
    name_words = name.split()
    if len(typed_words) != len(name_words):
        return False
    for t_word, n_word in zip(typed_words, name_words, strict=True):
        if t_word.isascii():
            continue
        t_base, t_tone = _split_tone(t_word)
        n_base, n_tone = _split_tone(n_word)
        if (t_tone and t_tone != n_tone) or len(t_base) != len(n_base):
            return False
        for a, b in zip(t_base, n_base, strict=True):
            if a != b and (not a.isascii() or b.translate(_FOLD) != a):
                return False
    return True


def _has_marks(word: str) -> bool:
    return not word.isascii()


def _fuzzy_limit(key: str) -> int:
    """Edits tolerated in a name: none for short names, one typo otherwise."""
    return 0 if len(key) - key.count(" ") < 5 else 1


def _fuzzy_best(
    runs: Sequence[Sequence[tuple[int, str]]],
    choices: Sequence[str],
    max_words: int,
    parsed: _Parsed,
    gaz: Gazetteer,
    *,
    tails_only: bool = False,
    not_from: set[int] | None = None,
) -> tuple[str | None, tuple[str, ...], tuple[int, int]]:
    """Find the single choice within one typo of some run of words, by a clear margin.

    Returns ``(choice, (), (start, end))`` when one choice is closest by at least one edit,
    ``(None, tied, ...)`` when several are equally close, ``(None, (), ...)`` when none is
    within reach. Short names (under five letters) never win on a typo and count as rivals
    only outside the words of a longer match ("Lâm Thoa" is Lâm Thao, not Thứa). Same
    letters with other marks ("Đại Lái" for "Đại Lai") count as one typo.
    """
    best: dict[str, tuple[int, int, int]] = {}
    for run in runs:
        for size in range(1, max_words + 2):
            for i in range(0, len(run) - size + 1):
                if tails_only and i + size != len(run):
                    continue
                if not_from and run[i][0] in not_from:
                    continue
                span = " ".join(w for _, w in run[i : i + size])
                if len(span) < 4:
                    continue
                start, end = run[i][0], run[i + size - 1][0] + 1
                for key, dist, _ in process.extract(
                    span, choices, scorer=OSA.distance, score_cutoff=1, limit=None
                ):
                    if dist == 0 and not _agrees(parsed.accented, start, end, key, gaz):
                        dist = 1
                    if dist < best.get(key, (99, 0, 0))[0]:
                        best[key] = (int(dist), start, end)
    if not best:
        return None, (), (0, 0)
    top_dist = min(d for d, _, _ in best.values())
    tied = [k for k, v in best.items() if v[0] == top_dist]
    if len(tied) > 1:  # a short name inside the span of a longer one is no rival
        tied = [
            k
            for k in tied
            if _fuzzy_limit(k) > 0
            or not any(
                o != k
                and best[o][1] <= best[k][1]
                and best[k][2] <= best[o][2]
                and best[o][2] - best[o][1] > best[k][2] - best[k][1]
                for o in tied
            )
        ]
    if len(tied) > 1:
        return None, tuple(sorted(tied)), (0, 0)
    if top_dist > _fuzzy_limit(tied[0]):
        return None, (), (0, 0)
    return tied[0], (), best[tied[0]][1:]


def _free_runs(
    parsed: _Parsed, blocked: set[int], include_below: bool
) -> list[list[tuple[int, str]]]:
    """List runs of words that may hold a misspelt name.

    Type words are kept ("Xa" may end a misspelt "Ninh Xá"); names and numbers are not, nor
    hamlet/street parts unless ``include_below``.
    """
    skip = set(blocked)
    for hit in parsed.hits:
        if hit.roles != _COUNTRY:  # "Vn" may be a misspelt "Vân"
            skip.update(range(hit.start, hit.end))
    if not include_below:
        for start, stop, _ in parsed.below:
            skip.update(range(start, stop))
    runs: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for i, word in enumerate(parsed.words):
        free = i not in skip and not word.isdigit()
        if current and (not free or parsed.segments[i] != parsed.segments[current[-1][0]]):
            runs.append(current)
            current = []
        if free:
            current.append((i, word))
    if current:
        runs.append(current)
    return runs


def _below_tails(parsed: _Parsed, used: set[int]) -> tuple[list[list[tuple[int, str]]], set[int]]:
    """Runs of plain words of hamlet/street parts, with the type word opening them.

    Also returns the positions where a misspelt name may not start: the first word of an
    unnumbered part is the hamlet's own name ("thôn Đông Thọ" names a hamlet), while the
    type word itself may begin a misspelt commune name ("Phố Mớs" for Phố Mới).
    """
    taken = set(used)
    for hit in parsed.hits:
        taken.update(range(hit.start, hit.end))
    opener = {end: start for start, end, kind in parsed.markers if kind == "below"}
    runs: list[list[tuple[int, str]]] = []
    hamlet_starts: set[int] = set()
    for begin, stop, numbered in parsed.below:
        current: list[tuple[int, str]] = []
        first = begin
        if not numbered:
            hamlet_starts.add(begin)
            first = opener.get(begin, begin)
        for i in range(first, stop):
            if i in taken or parsed.words[i].isdigit():
                if current:
                    runs.append(current)
                current = []
            else:
                current.append((i, parsed.words[i]))
        if current:
            runs.append(current)
    return runs, hamlet_starts


def _closest(parsed: _Parsed, gaz: Gazetteer, limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` communes whose names look most like some run of the words."""
    scores: dict[str, float] = {}
    keys = list(gaz.name_codes)
    for run in _free_runs(parsed, set(), include_below=True):
        for size in range(1, 4):
            for i in range(0, len(run) - size + 1):
                span = " ".join(w for _, w in run[i : i + size])
                if len(span) < 3:
                    continue
                for key, score, _ in process.extract(
                    span, keys, scorer=fuzz.ratio, limit=limit, score_cutoff=60
                ):
                    scores[key] = max(scores.get(key, 0.0), score)
    best = sorted(scores, key=lambda k: (-scores[k], k))[:limit]
    return tuple(code for key in best for code in gaz.name_codes[key])[:limit]


def match_address(address: str, gazetteer: Gazetteer) -> AddressMatch:
    """Match one free-text address to a commune, or reject it with the candidates.

    Parameters
    ----------
    address : str
        As typed, e.g. ``"Thôn Đông, x. Ninh Xá, H. Thuận Thành, Bắc Ninh"``.
    gazetteer : Gazetteer
        From :func:`build_gazetteer`.

    Returns
    -------
    AddressMatch
        ``matched`` with the commune only when exactly one commune fits; otherwise
        ``ambiguous`` (all fitting codes), ``unknown`` (up to 3 closest codes) or
        ``empty``, with a reason.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"commune_name": ["Ninh Xá", "Ninh Xá"], "commune_type": ["Phường", "Xã"],
    ...      "district_name": ["Thành phố Bắc Ninh", "Huyện Thuận Thành"]},
    ...     index=pd.Index(["09184", "09445"], name="commune_code"))
    >>> gaz = build_gazetteer(table)
    >>> match_address("Ninh Xa, Thuan Thanh", gaz).commune_code
    '09445'
    >>> match_address("ninh xa", gaz).status
    'ambiguous'
    """
    text = _clean_text(address)
    return _match_tokens(text, *_tokenize(text), gazetteer)


def _match_tokens(
    text: str,
    words: tuple[str, ...],
    accented: tuple[str, ...],
    segments: tuple[int, ...],
    gaz: Gazetteer,
) -> AddressMatch:
    if not words:
        return _result(text, "empty", gaz, reason="the address has no words")
    return _resolve(text, _parse_tokens(words, accented, segments, gaz), gaz)


def _resolve(text: str, parsed: _Parsed, gaz: Gazetteer) -> AddressMatch:
    hits = [h for h in parsed.hits if h.roles != _COUNTRY]
    # 1. the province part, read from the right
    province_seen = False
    for hit in hits:
        if hit.roles & _PROVINCE and hit.marker == "province":
            if gaz.own_provinces and hit.key not in gaz.own_provinces:
                return _outside(text, hit, parsed, gaz)
    if hits:
        last = hits[-1]
        # "TP Hồ Chí Minh" is a province; "TP Bắc Ninh" the city (a district)
        is_province = (
            last.roles & _PROVINCE
            and last.marker != "commune"
            and not (last.marker == "district" and last.roles & _DISTRICT)
        )
        if is_province and gaz.own_provinces and last.key not in gaz.own_provinces:
            if not (last.roles & _COMMUNE and len(hits) == 1):
                return _outside(text, last, parsed, gaz)
        elif is_province and (last.start > 0 or not last.roles & (_COMMUNE | _DISTRICT)):
            # words before it: the province part ("..., Bắc Ninh"), not the city
            hits = hits[:-1]
            province_seen = True
    # a name that is both a commune and a district ("Gia Bình") after some other words
    # is first read as the district, then, if no commune fits, as the commune
    duals = [h for h in hits if h.roles & _COMMUNE and h.roles & _DISTRICT and h.marker is None]
    first_free = _first_free_word(parsed) if duals else len(parsed.words)
    if any(first_free < h.start for h in duals):
        first = _resolve_commune(text, parsed, gaz, hits, province_seen, dual_as_district=True)
        if first.status == "matched":
            return first
        second = _resolve_commune(text, parsed, gaz, hits, province_seen, dual_as_district=False)
        # both readings failed: the district reading names the closer candidates
        return second if second.status == "matched" or first.status != "ambiguous" else first
    return _resolve_commune(text, parsed, gaz, hits, province_seen, dual_as_district=False)


def _first_free_word(parsed: _Parsed) -> int:
    """Position of the first word that is not a name, type word or number."""
    return parsed.kinds.index(0) if 0 in parsed.kinds else len(parsed.kinds)


def _resolve_commune(  # noqa: C901
    text: str,
    parsed: _Parsed,
    gaz: Gazetteer,
    hits: list[_Hit],
    province_seen: bool,
    *,
    dual_as_district: bool,
) -> AddressMatch:
    # where each name sits relative to hamlet/street parts
    place: dict[int, str] = {}
    just_short: list[_Hit] = []  # in the middle of a part, only misspelt words after them
    for begin, stop, numbered in parsed.below:
        for hit in hits:
            if begin <= hit.start < stop:
                # the hamlet's own name opens the part; a commune written without a comma
                # after it closes the part ("thôn Đông Vũ Ninh Bắc Ninh"); a name in the
                # middle belongs to the hamlet or street ("đường Hai Bà Trưng xa ...");
                # after a house or hamlet number any name may be the commune
                at_start = hit.start == begin and not numbered
                at_end = hit.end >= stop or numbered  # "Khu 8 Vệ An ..." names the commune
                # "khu phố Đào Ngọc XA Pho Lang": the "xa" ending Ngọc Xá is the type word
                swallowed = (
                    parsed.words[hit.end - 1] in _COMMUNE_MARKERS
                    and hit.end < len(parsed.words)
                    and parsed.segments[hit.end] == parsed.segments[hit.start]
                    and (parsed.kinds[hit.end] == 0 or _opens_below(parsed, hit.end))
                )
                usable = at_end and not at_start and not swallowed
                place[hit.start] = "fallback" if usable else "hamlet"
                if not at_end and not at_start and not swallowed:
                    just_short.append(hit)
    first_free = _first_free_word(parsed) if dual_as_district else len(parsed.words)

    # 2. the district: after a district word, or a district name with a place before it
    district_hits: list[_Hit] = []
    commune_hits: list[_Hit] = []
    dual: set[int] = set()  # names read as a commune that could also be a district/province
    for idx, hit in enumerate(hits):
        if hit.marker in ("province", "below") or place.get(hit.start) == "hamlet":
            continue
        is_commune = bool(hit.roles & _COMMUNE)
        is_district = bool(hit.roles & _DISTRICT)
        if is_district and (hit.marker == "district" or not is_commune):
            district_hits.append(hit)
        elif is_district and hit.marker is None:
            before = any(h.roles & _COMMUNE and h.marker != "below" for h in hits[:idx])
            if before or first_free < hit.start:
                district_hits.append(hit)
            else:
                commune_hits.append(hit)
                dual.add(hit.start)
        elif is_commune and hit.marker != "district":
            commune_hits.append(hit)
            if hit.roles & _PROVINCE and hit.marker is None and not province_seen:
                dual.add(hit.start)  # "Bình Định": a commune, or the province?
    districts: set[str] = set()
    for hit in district_hits:
        districts.update(gaz.district_keys.get(hit.key, ()))
    used = {i for h in district_hits for i in range(h.start, h.end)}
    if not districts and gaz.district_keys:
        last_commune_end = max((h.end for h in commune_hits), default=0)
        # a misspelt district: after a district word, or the last words of the address
        # (also inside a hamlet part that runs to the end: "thôn Hậu Đông Cứu Giia Bình")
        all_runs = _free_runs(parsed, used, include_below=True)
        runs = [run for run in all_runs if _after_marker(parsed, run[0][0], "district")]
        if (
            all_runs
            and all_runs[-1][0][0] >= last_commune_end
            and not _near_commune_marker(parsed, all_runs[-1][0][0])
            and all_runs[-1] not in runs
        ):
            runs.append(all_runs[-1])
        found, _, (start, end) = _fuzzy_best(runs, list(gaz.district_keys), 3, parsed, gaz)
        if found is not None:
            districts.update(gaz.district_keys[found])
            used.update(range(start, end))
            # "Số 141 Lý Thái Tổ Tam Đa Yên Phomg": the part ended where the district began
            for hit in just_short:
                if hit.end == start and hit.roles & _COMMUNE:
                    place[hit.start] = "fallback"
                    commune_hits.append(hit)

    # 3. the commune: marked by a type word, else plain, else inside a hamlet/street part
    commune_hits = [h for h in commune_hits if _acceptable(h, parsed, gaz)]
    marked = [h for h in commune_hits if h.marker == "commune"]
    plain = [h for h in commune_hits if h.marker is None and h.start not in place]
    fallback = [h for h in commune_hits if place.get(h.start) == "fallback"]
    if fallback and _open_commune_marker(parsed):
        fallback = []  # "..., xa Phương ao": the commune is the misspelt name after "xã"
    chosen = marked or plain or fallback
    if chosen:
        return _resolve_hits(text, chosen, districts, dual, parsed, gaz)

    # 4. no exact name: one typo, clear winner
    allowed = [k for d in (districts or {""}) for k in gaz.keys_in_district[d]]
    runs = _free_runs(parsed, used, include_below=False)
    found, tied, span = _fuzzy_best(runs, allowed, gaz.max_words, parsed, gaz)
    if found is None and not tied:
        # inside a hamlet/street part only its last words may be the commune
        runs, hamlet_starts = _below_tails(parsed, used)
        found, tied, span = _fuzzy_best(
            runs, allowed, gaz.max_words, parsed, gaz, tails_only=True, not_from=hamlet_starts
        )
    if found is not None:
        marks = " ".join(parsed.accented[span[0] : span[1]])
        named = gaz.name_codes[found]
        if (
            gaz.roles[found] & _DISTRICT
            and not districts
            and not _after_marker(parsed, span[0], "commune")
        ):
            return _result(
                text,
                "ambiguous",
                gaz,
                named,
                f"'{marks}' is one typo from {gaz.describe(named[0])} and from the district of "
                "that name; write the commune and the district",
            )
        return _resolve_codes(text, found, named, districts, None, None, gaz, marks)
    if tied:
        codes = [c for key in tied for c in gaz.name_codes[key]]
        if districts:
            codes = [c for c in codes if gaz.district_names[c] in districts] or codes
        return _result(
            text,
            "ambiguous",
            gaz,
            codes,
            "no exact commune name, and several are one typo away ("
            + "; ".join(gaz.describe(c) for c in codes)
            + "); check the spelling",
        )
    if districts:
        return _result(
            text,
            "unknown",
            gaz,
            (),
            f"names only the district ({', '.join(sorted(districts))}), no commune of it; "
            "add the xã/phường/thị trấn",
        )
    return _result(
        text,
        "unknown",
        gaz,
        _closest(parsed, gaz),
        "no commune name of this boundary set found; check the spelling or the commune",
    )


def _acceptable(hit: _Hit, parsed: _Parsed, gaz: Gazetteer) -> bool:
    if hit.marker == "commune":
        return True
    if hit.key.isdigit():
        return False  # "Phường 3" yes; a bare "3" is a house number
    if hit.end - hit.start == 1 and _has_marks(parsed.accented[hit.start]):
        typed = parsed.accented[hit.start]
        # "chợ" (market) is not "Chờ"; one-syllable names must agree with the marks typed
        return any(_compatible(typed, gaz.lower_names[c]) for c in gaz.name_codes[hit.key])
    return True


def _near_commune_marker(parsed: _Parsed, index: int) -> bool:
    """Whether a commune type word starts at, or ends just before, word ``index``."""
    return any(kind == "commune" and index in (start, end) for start, end, kind in parsed.markers)


def _opens_below(parsed: _Parsed, index: int) -> bool:
    """Whether a hamlet/street type word starts at word ``index``."""
    return any(start == index and kind == "below" for start, _, kind in parsed.markers)


def _open_commune_marker(parsed: _Parsed) -> bool:
    """Whether a commune type word is followed by plain words rather than by a name."""
    kinds = parsed.kinds
    return any(
        kind == "commune"
        and end < len(kinds)
        and kinds[end] == 0
        and parsed.segments[end] == parsed.segments[start]
        for start, end, kind in parsed.markers
    )


def _after_marker(parsed: _Parsed, index: int, kind: str) -> bool:
    return any(end == index and k == kind for _, end, k in parsed.markers)


def _outside(text: str, hit: _Hit, parsed: _Parsed, gaz: Gazetteer) -> AddressMatch:
    province = " ".join(parsed.accented[hit.start : hit.end])
    own = ", ".join(sorted(gaz.own_provinces))
    return _result(
        text,
        "unknown",
        gaz,
        (),
        f"the address is in province '{province}', outside this boundary set (province "
        f"{own}); route the row to that province",
    )


def _resolve_hits(
    text: str,
    chosen: Sequence[_Hit],
    districts: set[str],
    dual: set[int],
    parsed: _Parsed,
    gaz: Gazetteer,
) -> AddressMatch:
    keys = list(dict.fromkeys(h.key for h in chosen))
    if len(keys) > 1 and districts:
        inside = [
            k for k in keys if any(gaz.district_names[c] in districts for c in gaz.name_codes[k])
        ]
        keys = inside or keys
    if len(keys) > 1:
        codes = [c for k in keys for c in gaz.name_codes[k]]
        return _result(
            text,
            "ambiguous",
            gaz,
            codes,
            "several commune names in the address ("
            + "; ".join(gaz.describe(c) for c in codes)
            + "); keep only the commune, or mark it with 'xã'/'phường'",
        )
    key = keys[0]
    hit = [h for h in chosen if h.key == key][-1]
    typed = " ".join(parsed.accented[hit.start : hit.end])
    result = _resolve_codes(text, key, gaz.name_codes[key], districts, hit.marker_type, typed, gaz)
    if result.status == "unknown" and districts:
        # the exact name lies in another district: a misspelt name of the stated district
        # around it ("Đại Đồng Thnàh, Thuận Thành"; "Nhan Ho, Quế Võ") is the one meant
        around = _spans_around(hit, parsed)
        longer, rivals = _rivals(key, hit, typed, parsed, gaz, districts, around)
        if len(longer) + len(rivals) == 1:
            other = (longer or rivals)[0]
            return _resolve_codes(text, other, gaz.name_codes[other], districts, None, None, gaz)
    if result.status != "matched" or result.commune_code is None:
        return result
    code = result.commune_code
    if hit.start in dual and not districts:
        return _result(
            text,
            "ambiguous",
            gaz,
            (code,),
            f"'{typed}' names a commune ({gaz.describe(code)}) and also a district or "
            f"province; write 'xã/phường/thị trấn {typed}' or add the district",
        )
    # a typo can turn one name into another (Đại Bái -> Đại Lai) or hide a longer name
    # containing this one ("Sng Hồ" for Song Hồ), or share words with another name; never
    # prefer the longer name: "Lê Thánh Tông Hồ" is Hồ after a street, though "tong ho" is
    # one typo from Song Hồ
    around = _spans_around(hit, parsed)
    longer, rivals = _rivals(key, hit, typed, parsed, gaz, districts, around)
    if longer or rivals:
        codes = [code] + [c for k in (*longer, *rivals) for c in gaz.name_codes[k]]
        return _result(
            text,
            "ambiguous",
            gaz,
            codes,
            f"'{typed}' could be a typo of another name, or its words be cut another way ("
            + "; ".join(gaz.describe(c) for c in codes[1:])
            + "); check the spelling, add commas",
        )
    return result


def _spans_around(hit: _Hit, parsed: _Parsed) -> list[tuple[int, int]]:
    """The hit widened by a plain word just before and/or after it (same segment)."""
    segment = parsed.segments[hit.start]
    kinds = parsed.kinds

    def plain(i: int) -> bool:
        return 0 <= i < len(kinds) and kinds[i] == 0 and parsed.segments[i] == segment

    before, after = plain(hit.start - 1), plain(hit.end)
    spans = [(hit.start - 1, hit.end)] if before else []
    if after:
        spans.append((hit.start, hit.end + 1))
    if before and after:
        spans.append((hit.start - 1, hit.end + 1))
    return spans


def _rivals(
    key: str,
    hit: _Hit,
    typed: str,
    parsed: _Parsed,
    gaz: Gazetteer,
    districts: set[str],
    around: Sequence[tuple[int, int]],
) -> tuple[list[str], list[str]]:
    """Longer names spelt around the hit, and names one edit away that the marks favour.

    "Sng Hồ" spells Song Hồ around the name Hồ (a longer name containing it); "Thụy Hò"
    spells Thụy Hòa, one typo away (a rival).
    """
    longer: list[str] = []
    rivals: list[str] = []
    words = parsed.words
    size_hit = hit.end - hit.start
    # another commune name sharing words with this one ("Bình Vân Ninh Xá": Vạn Ninh or
    # Ninh Xá?): the words could be cut either way
    n = len(words)
    segment = parsed.segments[hit.start]
    for start in range(max(hit.start - gaz.max_words + 1, 0), hit.end):
        for end in range(max(start + 1, hit.start + 1), min(start + gaz.max_words, n) + 1):
            inside = hit.start <= start and end <= hit.end
            if inside or parsed.segments[start] != segment or parsed.segments[end - 1] != segment:
                continue
            other = " ".join(words[start:end])
            codes = gaz.name_codes.get(other)
            if codes is None or other == key or other in rivals:
                continue
            if districts and not any(gaz.district_names[c] in districts for c in codes):
                continue
            rivals.append(other)
    for start, end in around:
        span = " ".join(words[start:end])
        for other, _, _ in process.extract(
            span, gaz.name_codes.keys(), scorer=OSA.distance, score_cutoff=1, limit=None
        ):
            codes = gaz.name_codes[other]
            if other == key or other in longer or other in rivals:
                continue
            if districts and not any(gaz.district_names[c] in districts for c in codes):
                continue
            (longer if f" {key} " in f" {other} " else rivals).append(other)
    for other in gaz.near_keys.get(key, ()):
        if other in longer or other in rivals:
            continue
        codes = gaz.name_codes[other]
        if districts and not any(gaz.district_names[c] in districts for c in codes):
            continue
        size = other.count(" ") + 1
        if size > size_hit:
            limit = _fuzzy_limit(other)
            for start in range(max(hit.end - size, 0), hit.start + 1):
                end = start + size
                if end > len(words) or len(set(parsed.segments[start:end])) > 1:
                    continue
                if OSA.distance(" ".join(words[start:end]), other, score_cutoff=limit) <= limit:
                    longer.append(other)
                    break
        elif size == size_hit and OSA.distance(key, other) <= 1:
            if _has_marks(typed) and not any(
                _compatible(typed, gaz.lower_names[c]) for c in gaz.name_codes[key]
            ):
                rivals.append(other)
    return longer, rivals


def _fewest_disagreements(marks: str, candidates: list[str], gaz: Gazetteer) -> list[str]:
    """Keep the communes whose names disagree least with the marks typed, word by word.

    Words spelt differently (the typo) are not compared: "Phù Lươeg" keeps Phù Lương and
    drops Phú Lương.
    """
    typed_words = marks.split()
    scores = {}
    for code in candidates:
        name_words = gaz.lower_names[code].split()
        if len(name_words) != len(typed_words):
            return candidates
        scores[code] = sum(
            not _compatible(t, n)
            for t, n in zip(typed_words, name_words, strict=True)
            if normalize_vietnamese(t) == normalize_vietnamese(n)
        )
    low = min(scores.values())
    return [c for c in candidates if scores[c] == low]


def _resolve_codes(
    text: str,
    key: str,
    codes: Sequence[str],
    districts: set[str],
    marker_type: str | None,
    typed: str | None,
    gaz: Gazetteer,
    marks: str | None = None,
) -> AddressMatch:
    how = "named" if typed is not None else "one typo from"
    marks = typed if marks is None else marks
    shown = typed or gaz.commune_names[codes[0]]
    candidates = list(codes)
    if districts:
        inside = [c for c in candidates if gaz.district_names[c] in districts]
        if not inside:
            where = ", ".join(sorted({gaz.district_names[c] for c in candidates}))
            return _result(
                text,
                "unknown",
                gaz,
                candidates,
                f"commune '{shown}' is in {where}, not in the district given "
                f"({', '.join(sorted(districts))}); correct the commune or the district",
            )
        candidates = inside
    if len(candidates) > 1 and marker_type is not None:
        same_type = [
            c for c in candidates if normalize_vietnamese(gaz.commune_types[c]) == marker_type
        ]
        candidates = same_type or candidates
    if len(candidates) > 1 and marks is not None and _has_marks(marks):
        candidates = _fewest_disagreements(marks, candidates, gaz)
    if len(candidates) == 1:
        return _result(text, "matched", gaz, candidates, f"{how} {gaz.describe(candidates[0])}")
    where = "; ".join(gaz.describe(c) for c in candidates)
    return _result(
        text,
        "ambiguous",
        gaz,
        candidates,
        f"'{shown}' is the name of {len(candidates)} communes ({where}); add the district",
    )


def match_addresses(addresses: Sequence[str] | pd.Series, gazetteer: Gazetteer) -> pd.DataFrame:
    """Match many addresses, each distinct address once.

    Parameters
    ----------
    addresses : sequence of str or pandas.Series
        Free-text addresses; missing values give status ``empty``.
    gazetteer : Gazetteer
        From :func:`build_gazetteer`.

    Returns
    -------
    pandas.DataFrame
        One row per input (same index as a Series input) with columns ``address``,
        ``commune_code``, ``commune_name`` (missing unless matched), ``status`` and
        ``candidates`` (``"09163 Phường Vũ Ninh (Thành phố Bắc Ninh); ..."``, empty when
        there are none).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"commune_name": ["Vũ Ninh"], "commune_type": ["Phường"],
    ...      "district_name": ["Thành phố Bắc Ninh"]},
    ...     index=pd.Index(["09163"], name="commune_code"))
    >>> out = match_addresses(["vu ninh", "", "Hà Nội"], build_gazetteer(table))
    >>> out["status"].tolist()
    ['matched', 'empty', 'unknown']
    """
    if isinstance(addresses, pd.Series):
        index = addresses.index
        values = [_clean_text(a) for a in addresses.tolist()]
    else:
        values = [_clean_text(a) for a in addresses]
        index = pd.RangeIndex(len(values))
    # the result depends on the words only (not on case, spacing or punctuation inside a
    # part), and not on numbers unless a commune has a numeric name: each distinct word
    # sequence is matched once
    fold_numbers = not any(any(ch.isdigit() for ch in key) for key in gazetteer.name_codes)
    by_shape: dict[tuple[tuple[str, ...], tuple[int, ...]], AddressMatch] = {}
    results: dict[str, AddressMatch] = {}
    for value in values:
        if value in results:
            continue
        words, accented, segments = _tokenize(value)
        if fold_numbers and _DIGITS.search(value):
            words = tuple("0" if w.isdigit() else w for w in words)
            accented = (
                words if accented is words else tuple("0" if w.isdigit() else w for w in accented)
            )
        shape = (accented, segments)
        known = by_shape.get(shape)
        if known is None:
            known = by_shape[shape] = _match_tokens(value, words, accented, segments, gazetteer)
        results[value] = known if known.address == value else replace(known, address=value)
    rows = [results[v] for v in values]
    return pd.DataFrame(
        {
            "address": pd.array(values, dtype="str"),
            "commune_code": pd.array([r.commune_code for r in rows], dtype="str"),
            "commune_name": pd.array([r.commune_name for r in rows], dtype="str"),
            "status": pd.array([r.status for r in rows], dtype="str"),
            "candidates": pd.array(
                ["; ".join(gazetteer.describe(c) for c in r.candidates) for r in rows],
                dtype="str",
            ),
        },
        index=index,
    )
