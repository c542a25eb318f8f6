"""Deterministic generator of address variants as people type them (for the accuracy test).

Each variant is built from one commune of a boundary table: an optional part below the
commune (hamlet, street, house number; made-up names), the commune name with or without its
type word, the district in one of its written forms, the province, and then a mix of typing
habits: no diacritics, tone marks only dropped, "đ" typed "d", upper/lower/title case,
extra spaces, commas or not, and one typo (dropped, doubled, swapped or replaced letter) in
the commune or the district name.

Typos are not applied to names shorter than 5 letters ("Hồ", "Chờ", "Lim", "Thứa": one
changed letter makes another word) and never produce another known name (a typo that turns
"Đại Bái" into "Đại Lai" is undetectable by any matcher); both exclusions are counted and
reported by :func:`generate_variants`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.address import normalize_vietnamese

HAMLET_SYLLABLES = (
    "Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Tiền", "Hậu", "Phúc", "Lộc",
    "Thọ", "Khang", "Mai", "Đào", "Hương", "Lũng", "Cầu", "Chùa", "Giếng", "Ngọc", "Quan",
    "Văn", "Xuân", "Thu", "Hòa", "Bình", "Mỹ", "Lạc", "Kim", "Ngân", "Vĩnh", "Cát", "Thái",
)  # fmt: skip
STREETS = (
    "Nguyễn Trãi", "Lý Thái Tổ", "Ngô Gia Tự", "Trần Hưng Đạo", "Lê Thánh Tông",
    "Nguyễn Văn Cừ", "Hai Bà Trưng", "Thiên Đức", "Kinh Dương Vương", "Lạc Long Quân",
)  # fmt: skip
COMMUNE_MARKERS = {
    "Xã": ("Xã ", "xã ", "X. ", "x.", "X ", "XA "),
    "Phường": ("Phường ", "phường ", "P. ", "P.", "p ", "F."),
    "Thị trấn": ("Thị trấn ", "thị trấn ", "TT. ", "TT ", "tt.", "T.Trấn "),
}
DISTRICT_MARKERS = {
    "Huyện": ("Huyện ", "huyện ", "H. ", "H.", "h "),
    "Thành phố": ("Thành phố ", "thành phố ", "TP. ", "TP ", "Tp.", "tp "),
    "Thị xã": ("Thị xã ", "TX. ", "tx "),
}
PROVINCE_FORMS = ("Bắc Ninh", "tỉnh Bắc Ninh", "T. Bắc Ninh", "Bắc Ninh, Việt Nam", "BẮC NINH")
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
LETTERS = "abcdefghiklmnopqrstuvxy"


@dataclass(frozen=True)
class Variant:
    """One generated address and the commune it names."""

    address: str
    commune_code: str


def _strip_all(text: str) -> str:
    out = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return out.replace("đ", "d").replace("Đ", "D")


def _strip_tones(text: str) -> str:
    kept = (c for c in unicodedata.normalize("NFD", text) if c not in TONES)
    return unicodedata.normalize("NFC", "".join(kept))


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _hamlet(rng: np.random.Generator) -> str:
    words = [_pick(rng, HAMLET_SYLLABLES) for _ in range(int(rng.integers(1, 3)))]
    return " ".join(words)


def _below_part(rng: np.random.Generator) -> str:
    number = int(rng.integers(1, 200))
    forms = (
        f"Thôn {_hamlet(rng)}",
        f"thôn {_hamlet(rng)}",
        f"Xóm {_hamlet(rng)}",
        f"xom {_hamlet(rng)}",
        f"Khu phố {_hamlet(rng)}",
        f"Khu {number % 9 + 1}",
        f"Số nhà {number}",
        f"SN {number} đường {_pick(rng, STREETS)}",
        f"Số {number} {_pick(rng, STREETS)}",
        f"{number} đường {_pick(rng, STREETS)}",
        f"Tổ dân phố {number % 12 + 1}",
        f"ngõ {number} phố {_pick(rng, STREETS)}",
        f"Thôn {_hamlet(rng)}, xóm {number % 5 + 1}",
    )
    return _pick(rng, forms)


def _typo(rng: np.random.Generator, word: str, forbidden: frozenset[str]) -> str | None:
    """One dropped, doubled, swapped or replaced letter; None when it is not possible."""
    positions = [i for i, c in enumerate(word) if c.isalpha()]
    if len(normalize_vietnamese(word).replace(" ", "")) < 5:
        return None
    for _ in range(10):
        i = positions[int(rng.integers(len(positions)))]
        kind = int(rng.integers(4))
        if kind == 0:
            out = word[:i] + word[i + 1 :]
        elif kind == 1:
            out = word[:i] + word[i] + word[i:]
        elif kind == 2:
            if i + 1 >= len(word) or not word[i + 1].isalpha():
                continue
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            out = word[:i] + _pick(rng, LETTERS) + word[i + 1 :]
        if normalize_vietnamese(out) not in forbidden and out != word:
            return out
    return None


def _case(rng: np.random.Generator, text: str) -> str:
    kind = int(rng.integers(10))
    if kind == 0:
        return text.upper()
    if kind == 1:
        return text.lower()
    if kind == 2:
        return text.title()
    return text


def generate_variants(
    communes: pd.DataFrame,
    rng: np.random.Generator,
    per_commune: int = 16,
    typo_rate: float = 0.3,
) -> tuple[list[Variant], dict[str, int]]:
    """Generate ``per_commune`` address variants of every commune.

    Parameters
    ----------
    communes : pandas.DataFrame
        Indexed by commune_code with commune_name, commune_type and district_name.
    rng : numpy.random.Generator
        Source of every random choice.
    per_commune : int
        Variants per commune.
    typo_rate : float
        Share of variants given one typo (two thirds in the commune name, one third in
        the district name).

    Returns
    -------
    (list of Variant, dict)
        The variants and counts of what was mixed in (for the report).
    """
    forbidden = frozenset(
        {normalize_vietnamese(n) for n in communes["commune_name"]}
        | {
            normalize_vietnamese(d.removeprefix("Huyện ").removeprefix("Thành phố "))
            for d in communes["district_name"]
        }
    )
    counts = dict.fromkeys(
        (
            "variants",
            "below_part",
            "commune_marker",
            "district",
            "province",
            "no_diacritics",
            "tones_dropped",
            "d_for_dj",
            "typo_commune",
            "typo_district",
            "typo_skipped",
            "no_commas",
            "extra_spaces",
        ),
        0,
    )
    variants: list[Variant] = []
    for code, row in communes.sort_index().iterrows():
        name = str(row["commune_name"])
        ctype = str(row["commune_type"])
        district = str(row["district_name"])
        dtype, dname = (
            ("Thành phố", district[len("Thành phố ") :])
            if district.startswith("Thành phố ")
            else ("Huyện", district[len("Huyện ") :])
        )
        for _ in range(per_commune):
            counts["variants"] += 1
            commune_text = name
            district_text = dname
            draw = rng.random()
            typo_target = 0 if draw < typo_rate * 2 / 3 else 2 if draw < typo_rate else 9
            if typo_target < 2:
                typo = _typo(rng, commune_text, forbidden)
                if typo is None:
                    counts["typo_skipped"] += 1
                else:
                    commune_text = typo
                    counts["typo_commune"] += 1
            parts = []
            if rng.random() < 0.6:
                parts.append(_below_part(rng))
                counts["below_part"] += 1
            if rng.random() < 0.5:
                commune_text = _pick(rng, COMMUNE_MARKERS[ctype]) + commune_text
                counts["commune_marker"] += 1
            parts.append(commune_text)
            if rng.random() < 0.85:  # as geo._synth_world.make_address
                counts["district"] += 1
                if typo_target == 2:
                    typo = _typo(rng, district_text, forbidden)
                    if typo is None:
                        counts["typo_skipped"] += 1
                    else:
                        district_text = typo
                        counts["typo_district"] += 1
                markers = DISTRICT_MARKERS[dtype]
                if dname == "Từ Sơn":  # a thị xã until November 2021
                    markers = markers + DISTRICT_MARKERS["Thị xã"]
                if rng.random() < 0.7:
                    district_text = _pick(rng, markers) + district_text
                parts.append(district_text)
            if rng.random() < 0.6:
                parts.append(_pick(rng, PROVINCE_FORMS))
                counts["province"] += 1
            separator = _pick(rng, (", ", ", ", ",", " , ", " - ", " "))
            if separator == " ":
                counts["no_commas"] += 1
            text = separator.join(parts)
            marks = rng.random()
            if marks < 0.35:
                text = _strip_all(text)
                counts["no_diacritics"] += 1
            elif marks < 0.45:
                text = _strip_tones(text)
                counts["tones_dropped"] += 1
            elif marks < 0.5:
                text = text.replace("đ", "d").replace("Đ", "D")
                counts["d_for_dj"] += 1
            text = _case(rng, text)
            if rng.random() < 0.2:
                text = "  " + text.replace(" ", "   ", 1) + " "
                counts["extra_spaces"] += 1
            variants.append(Variant(text, str(code)))
    return variants, counts
