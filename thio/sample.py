"""A realistic synthetic technometric survey: a city's micro and small industries.

:func:`generate_rounds` builds one dict of contract sheets (``thio.contract.SHEETS``) per
survey round for a fixed population of firms: four sectors of Kota Bontang (food, furniture,
textiles, apparel) and a rubber-products cluster in Kota Palembang. The same firms, with the
same items, are surveyed in every round; firms in a mentoring programme improve after it,
the others barely change. Everything is drawn from seeded numpy generators, so the same
arguments give identical frames, and the per-row work is vectorised (100,000 firms, about
600,000 items and several million SOTA rows, take a few seconds).

:func:`write_workbook` and :func:`write_csv_folder` write a round as the canonical workbook or
as a folder of CSV files.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from thio.contract import SHEETS
from thio.methodology import COMPONENT_ORDER, Methodology, load_methodology

EXCEL_MAX_ROWS = 1_048_576  # including the header row
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


# --------------------------------------------------------------------------------------
# The population
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sector:
    code: str
    name: str
    region_code: str
    share: float  # share of the sample
    name_words: tuple[str, ...]  # business-type words used in firm names
    # (item name, sophistication offset, typical value in million rupiah); six per sector
    technoware: tuple[tuple[str, float, float], ...]
    humanware: tuple[str, str]  # main and second worker group
    infoware: str
    level: tuple[float, float, float, float]  # typical lower limit of T, H, I, O
    sota: float  # sector offset of SOTA ratings (points)
    betas: tuple[float, float, float, float]  # typical intensities T, H, I, O


_REGIONS = {"6474": ("Kota Bontang", "BTG"), "1671": ("Kota Palembang", "PLG")}

_SECTORS: tuple[_Sector, ...] = (
    _Sector(
        "10",
        "Industri makanan",
        "6474",
        0.34,
        ("Amplang", "Kue", "Roti", "Keripik", "Abon Ikan", "Kerupuk"),
        (
            ("kompor dan wajan besar", -0.7, 3.0),
            ("mixer adonan", 0.0, 8.0),
            ("oven roti", 0.3, 15.0),
            ("mesin penggiling ikan", 0.2, 12.0),
            ("mesin pengemas vakum", 0.9, 25.0),
            ("freezer penyimpanan", 0.3, 10.0),
        ),
        ("tenaga produksi", "tenaga pengemasan"),
        "resep dan catatan produksi",
        (2.7, 2.3, 1.8, 2.1),
        0.3,
        (0.36, 0.30, 0.14, 0.20),
    ),
    _Sector(
        "31",
        "Industri furnitur",
        "6474",
        0.14,
        ("Mebel", "Meubel", "Kayu"),
        (
            ("perkakas tangan", -0.9, 2.0),
            ("mesin gergaji listrik", 0.0, 10.0),
            ("mesin serut kayu", 0.2, 15.0),
            ("bor listrik", -0.2, 3.0),
            ("mesin amplas", 0.0, 6.0),
            ("kompresor cat semprot", 0.4, 12.0),
        ),
        ("tukang kayu", "tenaga finishing"),
        "desain dan gambar kerja",
        (2.2, 2.3, 1.6, 1.9),
        0.0,
        (0.34, 0.36, 0.12, 0.18),
    ),
    _Sector(
        "13",
        "Industri tekstil",
        "6474",
        0.08,
        ("Tenun", "Batik", "Sulam"),
        (
            ("alat tenun bukan mesin", -0.5, 8.0),
            ("alat tenun gedogan", -1.0, 2.0),
            ("mesin pintal", 0.3, 20.0),
            ("mesin rajut", 0.5, 25.0),
            ("alat celup dan pewarnaan", -0.2, 5.0),
            ("canting dan kompor batik", -0.8, 1.0),
        ),
        ("penenun", "tenaga pewarnaan"),
        "motif dan catatan pewarnaan",
        (2.0, 2.1, 1.5, 1.8),
        -0.3,
        (0.30, 0.36, 0.14, 0.20),
    ),
    _Sector(
        "14",
        "Industri pakaian jadi",
        "6474",
        0.22,
        ("Konveksi", "Busana", "Penjahit"),
        (
            ("mesin jahit manual", -0.8, 2.0),
            ("mesin jahit listrik", 0.0, 4.0),
            ("mesin obras", 0.2, 5.0),
            ("mesin bordir komputer", 1.3, 40.0),
            ("mesin potong kain", 0.3, 7.0),
            ("setrika uap", -0.3, 2.0),
        ),
        ("penjahit", "tenaga potong dan finishing"),
        "pola dan ukuran",
        (2.3, 2.3, 1.7, 1.9),
        0.0,
        (0.30, 0.38, 0.12, 0.20),
    ),
    _Sector(
        "22",
        "Industri karet dan barang dari karet dan plastik",
        "1671",
        0.22,
        ("Karet", "Industri Karet", "Vulkanisir"),
        (
            ("mesin press karet", 0.4, 60.0),
            ("mesin giling karet", 0.3, 80.0),
            ("cetakan karet", -0.2, 15.0),
            ("oven vulkanisir", 0.2, 30.0),
            ("mesin potong karet", 0.0, 10.0),
            ("timbangan digital", -0.3, 3.0),
        ),
        ("operator mesin", "tenaga pencetakan dan finishing"),
        "formula kompon dan spesifikasi produk",
        (3.1, 2.6, 2.1, 2.3),
        0.5,
        (0.40, 0.26, 0.14, 0.20),
    ),
)
_ORGAWARE_ITEM = "organisasi dan manajemen usaha"

_WORD_A = (
    "Sumber", "Karya", "Sinar", "Cahaya", "Berkah", "Maju", "Mitra", "Bintang", "Tunas",
    "Harapan", "Putra", "Putri", "Mutiara", "Anugrah", "Barokah", "Rahmat", "Surya", "Usaha",
)  # fmt: skip
_WORD_B = (
    "Rejeki", "Mandiri", "Abadi", "Makmur", "Jaya", "Sejahtera", "Utama", "Bersama", "Lestari",
    "Baru", "Sentosa", "Indah", "Bahari", "Mulia", "Agung", "Perkasa", "Kencana", "Lancar",
)  # fmt: skip
_OWNERS = (
    "Bu Ani", "Pak Hasan", "Bu Siti", "Pak Rudi", "Bu Wati", "Pak Jumadi", "Hj. Fatimah",
    "Pak Andi", "Bu Yuli", "Pak Sukardi", "Bu Nur", "Pak Darman", "Bu Rina", "Pak Hendra",
)  # fmt: skip

# Typical deviation of a criterion's rating from the item's mean (points); others get 0.
_CRITERION_OFFSETS = {
    "T.op_complexity": 0.3,
    "T.precision": 0.0,
    "T.control": -0.4,
    "T.automation": -1.2,
    "T.maintenance": 0.6,
    "H.creativity": 0.2,
    "H.achievement": 0.4,
    "H.affiliation": 0.8,
    "H.risk_taking": -0.5,
    "H.time_orientation": 0.0,
    "I.fact_linkage": -0.2,
    "I.access": 0.4,
    "I.updating": -0.6,
    "I.communication": 0.3,
    "O.leadership": 0.5,
    "O.autonomy": 0.2,
    "O.involvement": 0.3,
    "O.innovation_climate": -0.5,
    "O.performance_orientation": 0.0,
}


@dataclass(frozen=True)
class _Programme:
    program_id: str
    program_name: str
    organisation: str
    focus: tuple[str, ...]
    region_code: str
    share: float  # share of the region's firms mentored
    start_offset: int  # days after the first round's period ends
    length: int  # days


def _programmes(year: int) -> tuple[_Programme, ...]:
    return (
        _Programme(
            f"PGM-BTG-{year}-01",
            "Pendampingan Teknologi Produksi IKM",
            "Dinas Perindustrian Kota Bontang",
            ("T", "H"),
            "6474",
            0.15,
            7,
            63,
        ),
        _Programme(
            f"PGM-PLG-{year}-01",
            "Pendampingan Manajemen Mutu Industri Karet",
            "Balai Riset dan Standardisasi Industri Palembang",
            ("O",),
            "1671",
            0.30,
            14,
            56,
        ),
    )


# Saaty's scale as signed codes: k > 0 is k, k < 0 is 1/|k| (written "1/k").
_SAATY_CODES = np.array([-9, -8, -7, -6, -5, -4, -3, -2, 1, 2, 3, 4, 5, 6, 7, 8, 9])
_SAATY_LABELS = np.array(
    [f"1/{-k}" if k < 0 else int(k) for k in range(-9, 10)], dtype=object
)  # index k + 9
_PAIRS_I = np.array([0, 0, 0, 1, 1, 2])
_PAIRS_J = np.array([1, 2, 3, 2, 3, 3])
_RANDOM_INDEX_4 = 0.90


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def generate_rounds(
    n_firms: int = 300,
    round_ids: Sequence[str] = ("2024Q1", "2024Q2", "2024Q3"),
    seed: int = 2024,
    ahp_firm_share: float = 0.3,
    *,
    sample_weights: bool = False,
    methodology: Methodology | None = None,
) -> list[dict[str, pd.DataFrame]]:
    """One dict of contract sheets (firms, items, sota, ahp, weights, programs) per round.

    The firms (ids like ``BTG-10-0001``) and their items are the same in every round. Text
    columns have pandas' ``str`` dtype; ``survey_date``, ``start_date`` and ``end_date`` are
    ``datetime64``; the AHP ``value`` column holds ints for judgments >= 1 and text such as
    ``"1/3"`` for reciprocals. ``sample_weight`` is left blank unless ``sample_weights``.
    Optional sheets with no rows in a round are empty frames with the contract's columns.
    """
    if n_firms < 1:
        raise ValueError("n_firms must be at least 1")
    if not round_ids:
        raise ValueError("round_ids must name at least one round")
    if not 0 <= ahp_firm_share <= 1:
        raise ValueError("ahp_firm_share must be within [0, 1]")
    methodology = methodology or load_methodology()
    periods = [_round_period(round_id) for round_id in round_ids]
    population = _Population(n_firms, seed, ahp_firm_share, methodology, periods[0])
    rounds = []
    for index, (round_id, period) in enumerate(zip(round_ids, periods, strict=True)):
        rng = np.random.default_rng([seed, 1, index, zlib.crc32(round_id.encode())])
        rounds.append(population.round(round_id, period, index, rng, sample_weights))
    return rounds


def write_workbook(
    sheets: dict[str, pd.DataFrame], path: Path, *, engine: str = "xlsxwriter"
) -> None:
    """Write a round as the canonical workbook: one sheet per contract sheet, header in row 1.

    Text is written as text (never a formula), numbers as numbers, dates as Excel dates and
    AHP judgments as numbers or as text like ``"1/3"``. Blank values leave the cell empty; the
    header row is bold. A sheet beyond Excel's row limit is an error (split the round into
    several files, see ``bench/generate.py``).

    ``engine="xlsxwriter"`` (default) uses xlsxwriter in constant-memory mode (inline
    strings; about 100,000 cells a second). ``engine="fast"`` writes the same workbook
    directly as Office Open XML with a shared-string table, as Excel itself saves files,
    building the cells with vectorised Arrow kernels (ten to twenty times faster; meant for
    benchmark inputs of many thousands of firms).
    """
    path = Path(path)
    for name, frame in sheets.items():
        if name in SHEETS and len(frame) + 1 > EXCEL_MAX_ROWS:
            raise ValueError(
                f"sheet {name} has {len(frame)} rows; a worksheet holds at most "
                f"{EXCEL_MAX_ROWS - 1} rows below the header: split the round into several files"
            )
    if engine == "fast":
        _write_workbook_fast(sheets, path)
        return
    if engine != "xlsxwriter":
        raise ValueError(f"engine must be 'xlsxwriter' or 'fast', not {engine!r}")
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        bold = workbook.add_format({"bold": True})
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for name, sheet in SHEETS.items():
            if name not in sheets:
                continue
            _write_sheet(workbook.add_worksheet(name), sheet, sheets[name], bold, date_format)
    finally:
        workbook.close()


def write_csv_folder(sheets: dict[str, pd.DataFrame], folder: Path) -> None:
    """Write a round as a folder of CSV files named after the sheets (``firms.csv``, ...).

    UTF-8, comma-separated, header row first, dates as ISO ``YYYY-MM-DD``, blank values empty.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
    for name, sheet in SHEETS.items():
        if name not in sheets:
            continue
        table = _arrow_table(sheet, sheets[name])
        pa_csv.write_csv(table, str(folder / f"{name}.csv"), options)


# --------------------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------------------


def _round_period(round_id: str) -> tuple[dt.date, dt.date]:
    """First and last day of a round ``YYYYQn`` (a quarter) or ``YYYY`` (a year)."""
    text = str(round_id)
    if len(text) == 4 and text.isdigit():
        year = int(text)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    if len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
        year, quarter = int(text[:4]), int(text[5])
        start = dt.date(year, 3 * quarter - 2, 1)
        end = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        return start, end - dt.timedelta(days=1)
    raise ValueError(f"round_id {round_id!r} is not YYYYQn or YYYY")


def _allocate(n: int, shares: Sequence[float]) -> np.ndarray:
    """Split n into integer counts proportional to shares (largest remainder, >= 1 each)."""
    shares = np.asarray(shares, dtype=float) / sum(shares)
    raw = shares * n
    counts = np.floor(raw).astype(int)
    if n >= len(shares):
        counts = np.maximum(counts, 1)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    i = 0
    while counts.sum() < n:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > n:
        j = int(np.argmax(counts))
        counts[j] -= 1
    return counts


def _text(values: Any) -> pa.Array:
    # large_string: pandas' str dtype takes it over without a copy
    return pa.array(values, type=pa.large_string())


def _take(dictionary: Sequence[str] | np.ndarray, codes: np.ndarray) -> pa.Array:
    """Strings dictionary[codes] as an Arrow array (fast for millions of rows)."""
    codes = np.asarray(codes)
    if codes.dtype not in (np.int32, np.int64):
        codes = codes.astype(np.int64)
    return pc.take(_text(list(dictionary)), pa.array(codes))


def _frame(columns: dict[str, Any], sheet: str) -> pd.DataFrame:
    """A pandas frame with the contract columns of ``sheet`` in order (Arrow strings -> str)."""
    names = SHEETS[sheet].column_names
    arrow = {k: v for k, v in columns.items() if isinstance(v, pa.Array | pa.ChunkedArray)}
    frame = pa.table(arrow).to_pandas() if arrow else pd.DataFrame()
    for name in names:
        if name not in arrow:
            value = columns[name]
            frame[name] = value.to_numpy() if isinstance(value, pd.Series) else value
    return frame[names]


def _empty(sheet: str) -> pd.DataFrame:
    columns = {}
    for column in SHEETS[sheet].columns:
        if column.kind in ("integer",):
            columns[column.name] = pd.Series([], dtype="int64")
        elif column.kind == "number":
            columns[column.name] = pd.Series([], dtype="float64")
        elif column.kind == "date":
            columns[column.name] = pd.Series([], dtype="datetime64[s]")
        elif column.kind == "judgment":
            columns[column.name] = pd.Series([], dtype=object)
        else:
            columns[column.name] = pd.Series([], dtype="str")
    return pd.DataFrame(columns)


def _saaty_codes(ratio: np.ndarray) -> np.ndarray:
    """Round ratios to Saaty's scale, as signed codes."""
    up = np.clip(np.rint(ratio), 1, 9)
    down = np.clip(np.rint(1.0 / ratio), 1, 9)
    codes = np.where(ratio >= 1, up, -down).astype(np.int64)
    codes[codes == -1] = 1
    return codes


def _codes_to_values(codes: np.ndarray) -> np.ndarray:
    return np.where(codes > 0, codes.astype(float), 1.0 / np.abs(codes))


def consistency_ratios(upper: np.ndarray) -> np.ndarray:
    """CR of 4x4 reciprocal matrices given by their upper-triangle values (m, 6).

    The pairs are (T,H), (T,I), (T,O), (H,I), (H,O), (I,O); CR = ((lambda_max - 4) / 3) / 0.90.
    """
    upper = np.asarray(upper, dtype=float).reshape(-1, 6)
    matrices = np.ones((len(upper), 4, 4))
    matrices[:, _PAIRS_I, _PAIRS_J] = upper
    matrices[:, _PAIRS_J, _PAIRS_I] = 1.0 / upper
    lam = np.linalg.eigvals(matrices).real.max(axis=1)
    return (lam - 4.0) / 3.0 / _RANDOM_INDEX_4


class _Population:
    """The firms and their items, fixed across rounds, and the draws that vary per round."""

    def __init__(
        self,
        n: int,
        seed: int,
        ahp_firm_share: float,
        methodology: Methodology,
        first_period: tuple[dt.date, dt.date],
    ) -> None:
        rng = np.random.default_rng([seed, 0])
        self.n = n
        self.criteria = methodology.criteria()
        self.limit_min = methodology.limit_min
        self.limit_max = methodology.limit_max
        self.sota_min = methodology.sota_min
        self.sota_max = methodology.sota_max
        self._firms(rng)
        self._items(rng)
        self._ahp(rng, ahp_firm_share)
        self._programmes(rng, first_period)

    # -- firms ------------------------------------------------------------------------
    def _firms(self, rng: np.random.Generator) -> None:
        n = self.n
        counts = _allocate(n, [sector.share for sector in _SECTORS])
        sector = np.repeat(np.arange(len(_SECTORS)), counts)
        seq = np.concatenate([np.arange(1, c + 1) for c in counts])
        width = max(4, len(str(int(counts.max()))))
        prefix = [_REGIONS[s.region_code][1] + "-" + s.code + "-" for s in _SECTORS]
        self.sector = sector
        self.firm_id = np.array(
            [
                f"{prefix[s]}{q:0{width}d}"
                for s, q in zip(sector.tolist(), seq.tolist(), strict=True)
            ],
            dtype=object,
        )
        region_codes = sorted({s.region_code for s in _SECTORS}, reverse=True)
        self.region_codes = region_codes
        self.region = np.array(
            [region_codes.index(s.region_code) for s in _SECTORS], dtype=np.int64
        )[sector]

        small = rng.random(n) < np.where(np.isin(sector, [0, 4]), 0.42, 0.32)
        self.small = small
        self.workers = np.where(small, rng.integers(5, 20, n), rng.integers(1, 5, n))
        self.firm_name = self._names(rng, sector, small)
        self.latent = rng.normal(0.0, 1.0, n) + np.where(small, 0.35, -0.15)
        self.sample_weight = np.round(np.where(small, 4.0, 11.0) * rng.uniform(0.9, 1.1, n), 2)

    def _names(self, rng: np.random.Generator, sector: np.ndarray, small: np.ndarray) -> list:
        n = len(sector)
        pattern = rng.integers(0, 4, n)
        word_a = rng.integers(0, len(_WORD_A), n)
        word_b = rng.integers(0, len(_WORD_B), n)
        owner = rng.integers(0, len(_OWNERS), n)
        kind = rng.integers(0, 6, n)
        legal = np.where(small & (rng.random(n) < 0.6), "CV", "UD")
        names = []
        for i in range(n):
            words = _SECTORS[sector[i]].name_words
            kind_word = words[kind[i] % len(words)]
            p = pattern[i]
            if p == 0:
                names.append(f"{legal[i]} {_WORD_A[word_a[i]]} {_WORD_B[word_b[i]]}")
            elif p == 1:
                names.append(f"{kind_word} {_WORD_A[word_a[i]]} {_WORD_B[word_b[i]]}")
            elif p == 2:
                names.append(f"{kind_word} {_OWNERS[owner[i]]}")
            else:
                names.append(f"{legal[i]} {kind_word} {_WORD_B[word_b[i]]}")
        return names

    # -- items ------------------------------------------------------------------------
    def _items(self, rng: np.random.Generator) -> None:
        n = self.n
        sector = self.sector
        richer = np.isin(sector, [0, 4])
        n_t = np.where(
            richer,
            rng.choice([1, 2, 3], n, p=[0.2, 0.4, 0.4]),
            rng.choice([1, 2, 3], n, p=[0.3, 0.4, 0.3]),
        )
        n_h = np.where((self.workers >= 2) & (rng.random(n) < 0.6), 2, 1)
        counts = np.stack([n_t, n_h, np.ones(n, int), np.ones(n, int)], axis=1)  # (n, 4)
        flat = counts.ravel()
        m = int(flat.sum())
        group = np.repeat(np.arange(n * 4), flat)
        starts = np.concatenate([[0], np.cumsum(flat)[:-1]])
        number = np.arange(m) - starts[group]  # 0-based within (firm, component)
        firm = group // 4
        comp = group % 4
        self.item_firm, self.item_comp, self.item_number = firm, comp, number
        self.items_per_firm = counts.sum(axis=1)
        self.m = m

        # item names and technoware character: each firm has distinct facilities
        n_names = 6
        perm = np.argsort(rng.random((n, n_names)), axis=1)
        tech_index = perm[firm, np.minimum(number, n_names - 1)]
        sec = sector[firm]
        tech_names = [name for s in _SECTORS for name, _, _ in s.technoware]
        tech_offset = np.array([off for s in _SECTORS for _, off, _ in s.technoware])
        tech_value = np.array([val for s in _SECTORS for _, _, val in s.technoware])
        other_names = []
        for s in _SECTORS:
            other_names += [s.humanware[0], s.humanware[1], s.infoware]
        other_names.append(_ORGAWARE_ITEM)
        dictionary = tech_names + other_names
        n_tech = len(tech_names)
        name_code = np.select(
            [comp == 0, comp == 1, comp == 2],
            [
                sec * n_names + tech_index,
                n_tech + sec * 3 + np.minimum(number, 1),
                n_tech + sec * 3 + 2,
            ],
            default=n_tech + 3 * len(_SECTORS),
        )
        self.item_name_code, self.item_name_dictionary = name_code, dictionary
        id_dictionary = [f"{c}{k + 1}" for c in COMPONENT_ORDER for k in range(3)]
        self.item_id_code, self.item_id_dictionary = comp * 3 + np.minimum(number, 2), id_dictionary

        # weights: technoware by value (blank for about a fifth of the firms), humanware by
        # headcount, infoware and orgaware blank
        offset = np.where(comp == 0, tech_offset[sec * n_names + tech_index], 0.0)
        value = tech_value[sec * n_names + tech_index] * np.exp(rng.normal(0, 0.35, m))
        value = np.maximum(0.5, np.round(value * 2) / 2)
        blank_t = rng.random(n) < 0.2
        weight = np.full(m, np.nan)
        is_t = comp == 0
        weight[is_t & ~blank_t[firm]] = value[is_t & ~blank_t[firm]]
        share = rng.uniform(0.5, 0.8, n)
        first = np.clip(np.rint(self.workers * share), 1, np.maximum(self.workers - 1, 1))
        second = np.maximum(self.workers - first, 1)
        is_h = comp == 1
        heads = np.where(counts[firm, 1] == 2, np.where(number == 0, first[firm], second[firm]),
                         self.workers[firm])  # fmt: skip
        weight[is_h] = heads[is_h]
        self.item_weight = weight

        # sophistication limits
        level = np.array([s.level for s in _SECTORS])[sec, comp]
        centre = level + offset + 0.7 * self.latent[firm] + rng.normal(0, 0.45, m)
        ll = np.clip(np.rint(centre), self.limit_min, self.limit_max - 2).astype(np.int64)
        span = rng.choice([1, 2, 2, 3], m)
        self.ll = ll
        self.ul = np.minimum(ll + span, self.limit_max).astype(np.int64)
        self.upgrade_draw = rng.random(m)

        # SOTA: item mean and item x criterion base ratings, fixed across rounds
        sector_sota = np.array([s.sota for s in _SECTORS])[sec]
        item_mean = 5.0 + 1.1 * self.latent[firm] + sector_sota + 0.6 * offset
        item_mean = item_mean + rng.normal(0, 0.6, m)
        k = np.array([len(self.criteria[c]) for c in COMPONENT_ORDER])
        crit_codes = [code for c in COMPONENT_ORDER for code in self.criteria[c]]
        crit_start = np.concatenate([[0], np.cumsum(k)[:-1]])
        crit_offset = np.array([_CRITERION_OFFSETS.get(code, 0.0) for code in crit_codes])
        item_k = k[comp]
        ic_item = np.repeat(np.arange(m), item_k)
        ic_start = np.concatenate([[0], np.cumsum(item_k)[:-1]])
        ic_crit = crit_start[comp][ic_item] + (np.arange(len(ic_item)) - ic_start[ic_item])
        self.item_k, self.ic_start = item_k, ic_start
        self.crit_start, self.crit_codes = crit_start, crit_codes
        base = item_mean[ic_item] + crit_offset[ic_crit] + rng.normal(0, 0.7, len(ic_item))
        self.ic_base = base.astype(np.float32)

    # -- AHP and given weights --------------------------------------------------------
    def _ahp(self, rng: np.random.Generator, ahp_firm_share: float) -> None:
        n = self.n
        prior = np.array([s.betas for s in _SECTORS])
        n_own = round(ahp_firm_share * n)
        own = np.zeros(n, bool)
        own[rng.permutation(n)[:n_own]] = True
        self.ahp_firms = np.flatnonzero(own)
        self.ahp_respondents = rng.choice([1, 2], len(self.ahp_firms), p=[0.6, 0.4])
        self.ahp_weights = np.stack(
            [rng.dirichlet(20 * prior[self.sector[f]]) for f in self.ahp_firms]
        ) if n_own else np.zeros((0, 4))  # fmt: skip
        # a few firms without their own AHP give their intensities directly
        rest = np.flatnonzero(~own)
        n_given = min(len(rest), max(1 if n >= 30 else 0, round(0.03 * n)))
        given = np.sort(rng.choice(rest, n_given, replace=False)) if n_given else rest[:0]
        betas = np.stack([rng.dirichlet(25 * prior[self.sector[f]]) for f in given]) if n_given \
            else np.zeros((0, 4))  # fmt: skip
        betas = np.maximum(betas, 0.05)
        betas = np.round(betas / betas.sum(axis=1, keepdims=True), 2)
        betas[:, 3] = np.round(1.0 - betas[:, :3].sum(axis=1), 2)
        self.given_firms, self.given_betas = given, betas
        self.sectors_present = sorted(set(self.sector.tolist()))

    # -- mentoring --------------------------------------------------------------------
    def _programmes(self, rng: np.random.Generator, first_period: tuple[dt.date, dt.date]) -> None:
        after = first_period[1]
        self.programmes = []
        self.mentored = np.full(self.n, -1)
        for index, programme in enumerate(_programmes(after.year)):
            start = after + dt.timedelta(days=programme.start_offset)
            end = start + dt.timedelta(days=programme.length)
            region = self.region_codes.index(programme.region_code)
            candidates = np.flatnonzero((self.region == region) & (self.mentored < 0))
            k = min(len(candidates), max(1, round(programme.share * len(candidates))))
            if k == 0:
                continue
            chosen = np.sort(rng.choice(candidates, k, replace=False))
            self.mentored[chosen] = index
            self.programmes.append((programme, start, end, chosen))

    # -- one round --------------------------------------------------------------------
    def round(
        self,
        round_id: str,
        period: tuple[dt.date, dt.date],
        index: int,
        rng: np.random.Generator,
        sample_weights: bool,
    ) -> dict[str, pd.DataFrame]:
        n = self.n
        start = np.datetime64(period[0], "D")
        days = (period[1] - period[0]).days + 1
        margin = min(5, max(0, (days - 1) // 2))
        offset = rng.integers(margin, days - margin, n)
        survey_date = start + offset.astype("timedelta64[D]")

        # exposure to mentoring (0 before the programme, 1 after it), per firm
        exposure = np.zeros(n)
        focus = np.zeros((n, 4), bool)
        for programme, p_start, p_end, chosen in self.programmes:
            length = max(1, (p_end - p_start).days)
            elapsed = (survey_date[chosen] - np.datetime64(p_start, "D")).astype(np.int64)
            exposure[chosen] = np.clip(elapsed / length, 0.0, 1.0)
            focus[np.ix_(chosen, [COMPONENT_ORDER.index(c) for c in programme.focus])] = True
        mentored = self.mentored >= 0

        # change of SOTA (points) per firm and component: a small general drift, and for
        # mentored firms a gain in the focus components
        gain = np.where(focus, 1.1, np.where(mentored[:, None], 0.3, 0.0)) * exposure[:, None]
        drift = 0.05 * index + rng.normal(0, 0.12, (n, 4))
        delta = gain + drift

        firms = self._firms_frame(round_id, survey_date, rng, sample_weights)
        items = self._items_frame(exposure, focus)
        sota = self._sota_frame(delta, rng)
        ahp = self._ahp_frame(rng)
        weights = self._weights_frame()
        programs = self._programs_frame(period)
        return {
            "firms": firms,
            "items": items,
            "sota": sota,
            "ahp": ahp,
            "weights": weights,
            "programs": programs,
        }

    def _firms_frame(
        self,
        round_id: str,
        survey_date: np.ndarray,
        rng: np.random.Generator,
        sample_weights: bool,
    ) -> pd.DataFrame:
        n = self.n
        # enumerators: six teams in Bontang, three in Palembang
        teams = np.where(self.region_codes_of_firms() == "6474", 6, 3)
        team = rng.integers(0, 1_000_000, n) % teams
        prefix = np.array([_REGIONS[code][1] for code in self.region_codes])[self.region]
        enumerator = [
            f"{p}-ENUM-{t + 1:02d}" for p, t in zip(prefix.tolist(), team.tolist(), strict=True)
        ]
        sec = self.sector
        columns = {
            "round_id": _text([round_id] * n),
            "firm_id": _text(self.firm_id),
            "firm_name": _text(self.firm_name),
            "sector_code": _take([s.code for s in _SECTORS], sec),
            "sector_name": _take([s.name for s in _SECTORS], sec),
            "region_code": _take(self.region_codes, self.region),
            "region_name": _take([_REGIONS[c][0] for c in self.region_codes], self.region),
            "size_class": _take(["micro", "small"], self.small.astype(int)),
            "workers": pd.Series(self.workers.astype(np.int64)),
            "sample_weight": pd.Series(
                self.sample_weight if sample_weights else np.full(n, np.nan)
            ),
            "survey_date": pd.Series(survey_date.astype("datetime64[s]")),
            "enumerator": _text(enumerator),
        }
        return _frame(columns, "firms")

    def region_codes_of_firms(self) -> np.ndarray:
        return np.array(self.region_codes)[self.region]

    def _items_frame(self, exposure: np.ndarray, focus: np.ndarray) -> pd.DataFrame:
        firm, comp = self.item_firm, self.item_comp
        # mentored firms upgrade some facilities / skills in their focus components
        upgrade = focus[firm, comp] & (self.upgrade_draw < 0.35 * exposure[firm])
        ll = np.minimum(self.ll + upgrade, self.limit_max).astype(np.int64)
        ul = np.minimum(self.ul + upgrade, self.limit_max).astype(np.int64)
        columns = {
            "firm_id": _take(self.firm_id, firm),
            "component": _take(list(COMPONENT_ORDER), comp),
            "item_id": _take(self.item_id_dictionary, self.item_id_code),
            "item_name": _take(self.item_name_dictionary, self.item_name_code),
            "weight": pd.Series(self.item_weight),
            "ll": pd.Series(ll),
            "ul": pd.Series(ul),
        }
        return _frame(columns, "items")

    def _sota_frame(self, delta: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        n, m = self.n, self.m
        firm, comp = self.item_firm, self.item_comp
        raters = np.where(rng.random(n) < 0.7, 2, 1)
        rater_bias = rng.normal(0, 0.3, (n, 2))
        per_item = (self.item_k * raters[firm]).astype(np.int64)
        total = int(per_item.sum())
        # rows in the order item -> rater -> criterion, as int32 indices to save memory
        row_item = np.repeat(np.arange(m, dtype=np.int32), per_item)
        row_start = np.concatenate([[0], np.cumsum(per_item)[:-1]]).astype(np.int32)
        position = np.arange(total, dtype=np.int32) - row_start[row_item]
        k = self.item_k.astype(np.int32)[row_item]
        rater = position // k
        crit_local = position - rater * k
        del position, k, row_start
        row_firm = firm.astype(np.int32)[row_item]
        row_comp = comp.astype(np.int32)[row_item]
        score = self.ic_base[self.ic_start[row_item] + crit_local]
        score += delta.astype(np.float32)[row_firm, row_comp]
        score += rater_bias.astype(np.float32)[row_firm, rater]
        score += rng.normal(0, 0.45, total).astype(np.float32)
        score = np.clip(np.rint(score * 2) / 2, self.sota_min, self.sota_max).astype(np.float64)
        columns = {
            "firm_id": _take(self.firm_id, row_firm),
            "component": _take(list(COMPONENT_ORDER), row_comp),
            "item_id": _take(self.item_id_dictionary, self.item_id_code.astype(np.int32)[row_item]),
            "criterion": _take(
                self.crit_codes, self.crit_start.astype(np.int32)[row_comp] + crit_local
            ),
            "rater": _take(["1", "2"], rater),
            "score": pd.Series(score),
        }
        return _frame(columns, "sota")

    def _ahp_frame(self, rng: np.random.Generator) -> pd.DataFrame:
        # firm respondents: judgments from the firm's weights seen through the respondent's
        # eyes, rounded to Saaty's scale; a few careless respondents answer at random
        firms = np.repeat(self.ahp_firms, self.ahp_respondents)
        respondent = np.concatenate([np.arange(r) for r in self.ahp_respondents]).astype(int) \
            if len(firms) else np.zeros(0, int)  # fmt: skip
        weights = np.repeat(self.ahp_weights, self.ahp_respondents, axis=0)
        weights = weights * np.exp(rng.normal(0, 0.12, weights.shape))
        ratio = (
            weights[:, _PAIRS_I]
            / weights[:, _PAIRS_J]
            * np.exp(rng.normal(0, 0.1, (len(weights), 6)))
        )
        codes = _saaty_codes(ratio) if len(firms) else np.zeros((0, 6), int)
        careless = rng.random(len(firms)) < 0.05
        codes[careless] = rng.choice(_SAATY_CODES, (int(careless.sum()), 6))

        # sector panels: three respondents each, the third sometimes inconsistent
        sectors = np.array(self.sectors_present, dtype=int)
        prior = np.array([s.betas for s in _SECTORS])[sectors]
        panel_weights = np.repeat(prior, 3, axis=0) * np.exp(
            rng.normal(0, 0.15, (3 * len(sectors), 4))
        )
        panel_ratio = panel_weights[:, _PAIRS_I] / panel_weights[:, _PAIRS_J]
        panel_codes = _saaty_codes(panel_ratio) if len(sectors) else np.zeros((0, 6), int)
        # the third respondent of some panels (at least one a round) answers inconsistently
        careless_panel = rng.random(len(sectors)) < 0.4
        if len(sectors) and not careless_panel.any():
            careless_panel[rng.integers(0, len(sectors))] = True
        for p in np.flatnonzero(careless_panel):
            for _ in range(50):
                trial = rng.choice(_SAATY_CODES, 6)
                if consistency_ratios(_codes_to_values(trial))[0] > 0.2:
                    break
            else:  # an intransitive set: T > H > I > T
                trial = np.array([5, -5, 3, 5, 3, 1])
            panel_codes[3 * p + 2] = trial

        n_firm_rows, n_panel_rows = 6 * len(firms), 6 * 3 * len(sectors)
        all_codes = np.concatenate([codes.ravel(), panel_codes.ravel()]).astype(int)
        value = pd.Series(_SAATY_LABELS[all_codes + 9], dtype=object)
        firm_ids = np.concatenate(
            [self.firm_id[np.repeat(firms, 6)], np.full(n_panel_rows, None, dtype=object)]
        )
        sector_codes = np.array([_SECTORS[s].code for s in sectors], dtype=object)
        panel_ids = np.concatenate(
            [np.full(n_firm_rows, None, dtype=object), np.repeat(sector_codes, 18)]
        )
        respondent_code = np.concatenate(
            [np.repeat(respondent, 6), 2 + np.tile(np.repeat(np.arange(3), 6), len(sectors))]
        ).astype(int)
        n_rows = n_firm_rows + n_panel_rows
        pair = np.tile(np.arange(6), n_rows // 6)
        columns = {
            "firm_id": _text(firm_ids),
            "panel_id": _text(panel_ids),
            "respondent": _take(["R1", "R2", "P1", "P2", "P3"], respondent_code),
            "row": _take(list(COMPONENT_ORDER), _PAIRS_I[pair]),
            "col": _take(list(COMPONENT_ORDER), _PAIRS_J[pair]),
            "value": value,
        }
        return _frame(columns, "ahp")

    def _weights_frame(self) -> pd.DataFrame:
        k = len(self.given_firms)
        if k == 0:
            return _empty("weights")
        columns = {
            "firm_id": _text(self.firm_id[np.repeat(self.given_firms, 4)]),
            "panel_id": _text([None] * (4 * k)),
            "component": _take(list(COMPONENT_ORDER), np.tile(np.arange(4), k)),
            "beta": pd.Series(self.given_betas.ravel()),
        }
        return _frame(columns, "weights")

    def _programs_frame(self, period: tuple[dt.date, dt.date]) -> pd.DataFrame:
        rows = []
        for programme, start, end, chosen in self.programmes:
            if period[1] < start:  # the programme is reported from the round it started in
                continue
            for f in chosen.tolist():
                rows.append(
                    {
                        "program_id": programme.program_id,
                        "program_name": programme.program_name,
                        "firm_id": self.firm_id[f],
                        "organisation": programme.organisation,
                        "focus": ",".join(programme.focus),
                        "start_date": start,
                        "end_date": end,
                    }
                )
        if not rows:
            return _empty("programs")
        frame = pd.DataFrame(rows)
        for name in ("program_id", "program_name", "firm_id", "organisation", "focus"):
            frame[name] = frame[name].astype("str")
        for name in ("start_date", "end_date"):
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
        return frame[SHEETS["programs"].column_names]


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------


def _clean_list(series: pd.Series, kind: str) -> list:
    """Column values as a Python list with blanks as None, ready for the workbook writer."""
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(series):
            days = (series.to_numpy("datetime64[D]") - _EXCEL_EPOCH).astype("timedelta64[D]")
            serial = days.astype(np.float64)
            serial[series.isna().to_numpy()] = np.nan
            return [None if math.isnan(x) else x for x in serial.tolist()]
        kind = "judgment"  # dates given as text or objects: written as they are
    if kind in ("integer", "number"):
        values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        return [None if math.isnan(x) else x for x in values.tolist()]
    if kind == "judgment":
        out = []
        for value in series.tolist():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                out.append(None)
            elif isinstance(value, dt.datetime | dt.date):
                out.append(value.isoformat()[:10])
            elif isinstance(value, int | float | np.integer | np.floating):
                out.append(float(value))
            else:
                out.append(str(value))
        return out
    mask = series.isna().to_numpy()
    values = series.astype(object).tolist()
    return [None if blank else str(v) for v, blank in zip(values, mask, strict=True)]


def _write_sheet(worksheet: Any, sheet: Any, frame: pd.DataFrame, bold: Any, date_format: Any):
    names = sheet.column_names
    lookup = {str(c).strip().lower(): c for c in frame.columns}
    columns, kinds = [], []
    for name in names:
        kind = sheet.column(name).kind
        if name in lookup:
            columns.append(_clean_list(frame[lookup[name]], kind))
        else:
            columns.append([None] * len(frame))
        kinds.append(kind)
    for c, name in enumerate(names):
        worksheet.write_string(0, c, name, bold)
    write_string, write_number = worksheet.write_string, worksheet.write_number
    text_cols = [c for c, k in enumerate(kinds) if k in ("text", "component")]
    date_cols = [c for c, k in enumerate(kinds) if k == "date"]
    mixed_cols = [c for c, k in enumerate(kinds) if k == "judgment"]
    for c in date_cols:
        worksheet.set_column(c, c, 11)
    if not date_cols and not mixed_cols:
        # the common (large) sheets: a tight loop with a fixed writer per column
        writers = [write_string if c in text_cols else write_number for c in range(len(names))]
        pairs = list(enumerate(writers))
        for r, row in enumerate(zip(*columns, strict=True), start=1):
            for c, write in pairs:
                value = row[c]
                if value is not None:
                    write(r, c, value)
        return
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if c in date_cols and isinstance(value, float):
                write_number(r, c, value, date_format)
            elif isinstance(value, str):
                write_string(r, c, value)
            else:
                write_number(r, c, value)


def _arrow_table(sheet: Any, frame: pd.DataFrame) -> pa.Table:
    lookup = {str(c).strip().lower(): c for c in frame.columns}
    arrays = {}
    for column in sheet.columns:
        name = column.name
        series = frame[lookup[name]] if name in lookup else pd.Series([None] * len(frame))
        if column.kind == "date" and pd.api.types.is_datetime64_any_dtype(series):
            arrays[name] = pa.array(series.to_numpy("datetime64[D]"), type=pa.date32(),
                                    mask=series.isna().to_numpy())  # fmt: skip
        elif column.kind == "integer" and pd.api.types.is_integer_dtype(series):
            arrays[name] = pa.array(series.to_numpy(), type=pa.int64())
        elif column.kind in ("integer", "number") and pd.api.types.is_numeric_dtype(series):
            arrays[name] = pa.array(series.to_numpy(dtype="float64"), from_pandas=True)
        elif column.kind != "judgment" and pd.api.types.is_string_dtype(series):
            arrays[name] = pa.array(series, type=pa.string(), from_pandas=True)
        else:
            values = _clean_list(series, "judgment")
            arrays[name] = pa.array([_csv_text(v) for v in values], type=pa.string())
    return pa.table(arrays)


def _csv_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# --------------------------------------------------------------------------------------
# The fast workbook engine: Office Open XML written directly
# --------------------------------------------------------------------------------------

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_STYLES_XML = (
    _XML_HEAD + f'<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_CHUNK_ROWS = 100_000
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_OOXML_ESCAPE = re.compile(r"_x[0-9a-fA-F]{4}_")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: str) -> str:
    value = _OOXML_ESCAPE.sub(lambda m: "_x005F" + m.group(0), value)
    value = _ILLEGAL_XML.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Cells:
    """One column as cell values: text (shared strings) and/or numbers, and a style."""

    text: pa.Array | None
    number: pa.Array | None  # numbers already formatted as text
    style: int = 0


def _fast_columns(sheet: Any, frame: pd.DataFrame) -> list[_Cells]:
    lookup = {str(c).strip().lower(): c for c in frame.columns}
    out = []
    for column in sheet.columns:
        name = column.name
        n = len(frame)
        if name not in lookup:
            out.append(_Cells(None, None))
            continue
        series = frame[lookup[name]]
        if column.kind == "date" and pd.api.types.is_datetime64_any_dtype(series):
            serial = (series.to_numpy("datetime64[D]") - _EXCEL_EPOCH).astype(np.int64)
            numbers = pa.array(serial, mask=series.isna().to_numpy()).cast(pa.string())
            out.append(_Cells(None, numbers, style=2))
        elif column.kind in ("integer", "number") and pd.api.types.is_numeric_dtype(series):
            if pd.api.types.is_integer_dtype(series):
                numbers = pa.array(series.to_numpy(dtype="int64")).cast(pa.string())
            else:
                numbers = pa.array(series.to_numpy(dtype="float64"), from_pandas=True)
                numbers = numbers.cast(pa.string())
            out.append(_Cells(None, numbers))
        elif column.kind != "judgment" and pd.api.types.is_string_dtype(series):
            out.append(_Cells(pa.array(series, type=pa.string(), from_pandas=True), None))
        else:
            texts: list[str | None] = [None] * n
            numbers_list: list[float | None] = [None] * n
            for i, value in enumerate(_clean_list(series, "judgment")):
                if isinstance(value, str):
                    texts[i] = value
                elif value is not None:
                    numbers_list[i] = value
            number_array = pa.array(numbers_list, type=pa.float64()).cast(pa.string())
            out.append(_Cells(pa.array(texts, type=pa.string()), number_array))
    return out


def _string_bytes(array: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without nulls (no copy)."""
    array = array.cast(pa.large_string()) if array.type != pa.large_string() else array
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    start, stop = offsets[array.offset], offsets[array.offset + len(array)]
    return memoryview(array.buffers()[2])[start:stop]


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _write_workbook_fast(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    import zipfile

    names = [name for name in SHEETS if name in sheets]
    columns = {name: _fast_columns(SHEETS[name], sheets[name]) for name in names}

    # the shared-string table: headers first, then every distinct text value
    header_text = [column for name in names for column in SHEETS[name].column_names]
    pieces = [pa.array(header_text, type=pa.string())]
    n_text = len(header_text)
    for name in names:
        for cells in columns[name]:
            if cells.text is not None:
                pieces.append(pc.unique(cells.text.drop_null()))
                n_text += len(cells.text) - cells.text.null_count
    sst = pc.unique(pa.concat_arrays(pieces))

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            f'ContentType="{_CT_MAIN}.worksheet+xml"/>'
            for i in range(1, len(names) + 1)
        )
        archive.writestr(
            "[Content_Types].xml",
            _XML_HEAD
            + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT_MAIN}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT_MAIN}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{_CT_MAIN}.sharedStrings+xml"/>' + overrides + "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            _XML_HEAD + f'<Relationships xmlns="{_NS_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        sheet_entries = "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(names, start=1)
        )
        archive.writestr(
            "xl/workbook.xml",
            _XML_HEAD + f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f"<sheets>{sheet_entries}</sheets></workbook>",
        )
        relations = "".join(
            f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        k = len(names)
        relations += (
            f'<Relationship Id="rId{k + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{k + 2}" Type="{_NS_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/>'
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            _XML_HEAD + f'<Relationships xmlns="{_NS_PKG_REL}">{relations}</Relationships>',
        )
        archive.writestr("xl/styles.xml", _STYLES_XML)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            stream.write(
                (
                    _XML_HEAD + f'<sst xmlns="{_NS_MAIN}" count="{n_text}" '
                    f'uniqueCount="{len(sst)}">'
                ).encode()
            )
            body = []
            for value in sst.to_pylist():
                space = ' xml:space="preserve"' if value != value.strip() else ""
                body.append(f"<si><t{space}>{_xml_text(value)}</t></si>")
            stream.write("".join(body).encode())
            stream.write(b"</sst>")
        for i, name in enumerate(names, start=1):
            with archive.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as stream:
                _write_sheet_xml(stream, SHEETS[name], columns[name], len(sheets[name]), sst)


def _write_sheet_xml(stream: Any, sheet: Any, columns: list[_Cells], n: int, sst: pa.Array):
    letters = [_column_letter(c) for c in range(len(columns))]
    index_of = {value: i for i, value in enumerate(sst.to_pylist()[: len(sst)])}
    head = "".join(
        f'<c r="{letters[c]}1" t="s" s="1"><v>{index_of[name]}</v></c>'
        for c, name in enumerate(sheet.column_names)
    )
    widths = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="11" customWidth="1"/>'
        for c, cells in enumerate(columns)
        if cells.style == 2
    )
    stream.write(
        (
            _XML_HEAD + f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<dimension ref="A1:{letters[-1]}{n + 1}"/>'
            + (f"<cols>{widths}</cols>" if widths else "")
            + f'<sheetData><row r="1">{head}</row>'
        ).encode()
    )
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(n, start + _CHUNK_ROWS)
        rows = pa.array(np.arange(start + 2, stop + 2, dtype=np.int64)).cast(pa.string())
        parts: list[Any] = ['<row r="', rows, '">']
        for c, cells in enumerate(columns):
            ref = _join(letters[c], rows)
            if cells.text is not None:
                index = pc.index_in(cells.text.slice(start, stop - start), value_set=sst)
                text = _join('<c r="', ref, '" t="s"><v>', index.cast(pa.string()), "</v></c>")
                parts.append(text.fill_null(""))
            if cells.number is not None:
                style = f' s="{cells.style}"' if cells.style else ""
                number = cells.number.slice(start, stop - start)
                parts.append(
                    _join('<c r="', ref, f'"{style}><v>', number, "</v></c>").fill_null("")
                )
        parts.append("</row>")
        stream.write(_string_bytes(_join(*parts)))
    stream.write(b"</sheetData></worksheet>")
