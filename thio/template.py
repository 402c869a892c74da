"""A blank canonical survey workbook for enumerators, with its scales explained in en and id.

:func:`write_template` writes the contract sheets (firms, items, sota, ahp, weights,
programs) with bold header rows, text-formatted code columns and data validation (components
T/H/I/O, criterion codes, limits, scores, intensities), a ``criteria`` sheet listing every
component's criterion codes with English and Indonesian labels, and a ``notes`` sheet that
explains each scale in English and in Bahasa Indonesia: sophistication limits with the
descriptor table, the SOTA scale, Saaty's AHP scale, weights and the TCC class bands. All
text is written as text (never as a formula).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thio.contract import SHEETS
from thio.methodology import COMPONENT_ORDER, Methodology

_LAST_ROW = 1_048_575  # zero-based last row of a worksheet
_NOTES_HEADER = ("section", "item", "English", "Bahasa Indonesia")

_SHEET_NOTES = {
    "firms": (
        "One row per firm: round, firm id (stable across rounds), KBLI sector code and BPS "
        "region code (as text), size, workers, survey date.",
        "Satu baris per perusahaan: periode, id perusahaan (tetap antar periode), kode KBLI "
        "dan kode wilayah BPS (sebagai teks), skala usaha, jumlah pekerja, tanggal survei.",
    ),
    "items": (
        "One row per assessed item: technoware per facility, humanware per worker group, "
        "infoware and orgaware usually one item each; every firm needs all four components.",
        "Satu baris per item yang dinilai: technoware per fasilitas, humanware per kelompok "
        "pekerja, infoware dan orgaware biasanya satu item; setiap perusahaan wajib punya "
        "keempat komponen.",
    ),
    "sota": (
        "One row per item, criterion and rater: the state-of-the-art rating of the item on "
        "each criterion of its component (codes in sheet criteria).",
        "Satu baris per item, kriteria dan penilai: nilai state of the art item pada setiap "
        "kriteria komponennya (kode pada sheet criteria).",
    ),
    "ahp": (
        "Pairwise judgments of the four components by each respondent of a firm (firm_id) "
        "or of a sector panel (panel_id = KBLI sector code). Optional.",
        "Penilaian berpasangan keempat komponen oleh setiap responden perusahaan (firm_id) "
        "atau panel sektor (panel_id = kode KBLI). Opsional.",
    ),
    "weights": (
        "Given contribution intensities (betas) of a firm or sector panel, instead of AHP. "
        "Optional.",
        "Intensitas kontribusi (beta) yang sudah diketahui untuk perusahaan atau panel "
        "sektor, sebagai pengganti AHP. Opsional.",
    ),
    "programs": (
        "Mentoring programmes (pendampingan): one row per programme and mentored firm, "
        "focus components such as T,H, start and end dates. Optional.",
        "Program pendampingan: satu baris per program dan perusahaan dampingan, komponen "
        "fokus misalnya T,H, tanggal mulai dan selesai. Opsional.",
    ),
}

_SAATY = (
    ("1", "equal importance of the two components", "kedua komponen sama penting"),
    (
        "3",
        "moderate importance of the row component over the col component",
        "komponen row sedikit lebih penting daripada komponen col",
    ),
    ("5", "strong importance of the row component", "komponen row lebih penting"),
    ("7", "very strong importance of the row component", "komponen row sangat lebih penting"),
    ("9", "extreme importance of the row component", "komponen row mutlak lebih penting"),
    (
        "2, 4, 6, 8",
        "intermediate values between two neighbouring judgments",
        "nilai antara dua penilaian yang berdekatan",
    ),
    (
        "1/2 … 1/9",
        "reciprocals: the col component is the more important one "
        "(1/3 = col moderately more important than row); write them as 1/3 or 0.3333",
        "kebalikan: komponen col yang lebih penting "
        "(1/3 = col sedikit lebih penting daripada row); tulis sebagai 1/3 atau 0.3333",
    ),
)


def _text(value: Any) -> str:
    return str(value)


def _number(value: float) -> str:
    """A setting value in the notes (3 not 3.0)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _notes(methodology: Methodology) -> list[tuple[str, str, str, str]]:
    """The notes rows: (section, item, English, Bahasa Indonesia)."""
    settings = methodology.settings
    lo, hi = methodology.limit_min, methodology.limit_max
    smin, smax = _number(methodology.sota_min), _number(methodology.sota_max)
    cr = _number(settings["ahp"]["cr_threshold"])
    tolerance = _number(settings["given_weights_tolerance"])
    betas = settings["default_betas"]
    default_betas = ", ".join(f"{c} {_number(betas[c])}" for c in COMPONENT_ORDER)
    rows: list[tuple[str, str, str, str]] = [
        (
            "about",
            "workbook",
            "Canonical thio survey workbook: fill one row per record in the sheets firms, "
            "items, sota (required) and ahp, weights, programs (optional). Keep the header "
            "row as it is.",
            "Workbook survei thio standar: isi satu baris per data pada sheet firms, items, "
            "sota (wajib) dan ahp, weights, programs (opsional). Jangan ubah baris judul.",
        ),
        (
            "about",
            "components",
            "Components: T technoware (facilities), H humanware (skills), I infoware "
            "(information), O orgaware (organisation).",
            "Komponen: T technoware (fasilitas), H humanware (keterampilan), I infoware "
            "(informasi), O orgaware (organisasi).",
        ),
    ]
    for name, (english, indonesian) in _SHEET_NOTES.items():
        rows.append(("sheets", name, english, indonesian))

    rows.append(
        (
            "sophistication",
            f"ll, ul ({lo}..{hi})",
            f"Degree of sophistication: each item gets a lower limit ll and an upper limit ul, "
            f"whole numbers from {lo} to {hi} with ll <= ul, read from the descriptor table "
            "below (the ranges of neighbouring stages overlap).",
            f"Tingkat kecanggihan: setiap item diberi batas bawah ll dan batas atas ul, "
            f"bilangan bulat {lo} sampai {hi} dengan ll <= ul, menurut tabel deskriptor di "
            "bawah (rentang tahap yang berdekatan saling tumpang tindih).",
        )
    )
    for stage in settings["sophistication"].get("descriptors", []):
        span = f"{stage['from']}-{stage['to']}"
        for code in COMPONENT_ORDER:
            if code not in stage:
                continue
            rows.append(
                (
                    "sophistication",
                    f"{code} {span}",
                    f"{methodology.component_label(code, 'en')}: {stage[code]['en']}",
                    f"{methodology.component_label(code, 'id')}: {stage[code]['id']}",
                )
            )

    rows += [
        (
            "sota",
            f"score ({smin}..{smax})",
            f"State of the art (SOTA): rate each item on every criterion of its component "
            f"(sheet criteria) from {smin} (far below the state of the art) to {smax} "
            "(the state of the art itself); halves such as 7.5 are fine.",
            f"State of the art (SOTA): nilai setiap item pada setiap kriteria komponennya "
            f"(sheet criteria) dari {smin} (jauh di bawah state of the art) sampai {smax} "
            "(setara state of the art); nilai setengah seperti 7.5 boleh.",
        ),
        (
            "sota",
            "rater",
            "Several raters: one row per rater (column rater); a criterion's rating is the "
            "mean over the raters. A blank rater counts as rater 1.",
            "Beberapa penilai: satu baris per penilai (kolom rater); nilai kriteria adalah "
            "rata-rata para penilai. Rater kosong dihitung sebagai penilai 1.",
        ),
        (
            "ahp",
            "pairs",
            "Pairwise comparison (AHP): for each pair (row, col) write how much more "
            "important the row component is than the col component, on Saaty's scale; give "
            "the six pairs T-H, T-I, T-O, H-I, H-O, I-O per respondent.",
            "Perbandingan berpasangan (AHP): untuk setiap pasangan (row, col) tuliskan "
            "seberapa lebih penting komponen row dibanding komponen col, dengan skala Saaty; "
            "isi enam pasangan T-H, T-I, T-O, H-I, H-O, I-O untuk setiap responden.",
        ),
    ]
    for value, english, indonesian in _SAATY:
        rows.append(("ahp", value, english, indonesian))
    rows += [
        (
            "ahp",
            f"CR <= {cr}",
            f"A respondent's judgments are used only when consistent (consistency ratio CR "
            f"<= {cr}); several respondents of one firm or panel are combined by the "
            "geometric mean.",
            f"Penilaian seorang responden hanya dipakai bila konsisten (rasio konsistensi "
            f"CR <= {cr}); beberapa responden satu perusahaan atau panel digabung dengan "
            "rata-rata geometrik.",
        ),
        (
            "ahp",
            "panel_id",
            "Sector panel: leave firm_id empty and write the KBLI sector code in panel_id; "
            "the panel's intensities apply to the sector's firms without their own AHP.",
            "Panel sektor: kosongkan firm_id dan tulis kode KBLI pada panel_id; intensitas "
            "panel berlaku bagi perusahaan di sektor itu yang tidak punya AHP sendiri.",
        ),
        (
            "weights",
            "beta (0..1)",
            f"Given intensities (sheet weights): beta for T, H, I and O of a firm (firm_id) "
            f"or a sector panel (panel_id), each between 0 and 1, the four summing to 1 "
            f"(within {tolerance}). Without AHP or weights the defaults are used: "
            f"{default_betas}.",
            f"Intensitas yang diketahui (sheet weights): beta untuk T, H, I dan O sebuah "
            f"perusahaan (firm_id) atau panel sektor (panel_id), masing-masing antara 0 dan "
            f"1, jumlah keempatnya 1 (toleransi {tolerance}). Tanpa AHP atau weights "
            f"dipakai nilai bawaan: {default_betas}.",
        ),
        (
            "weights",
            "item weight",
            "Item weight (sheet items): technoware items may be weighted by value, "
            "humanware groups by headcount; a blank weight counts as 1.",
            "Bobot item (sheet items): item technoware boleh dibobot menurut nilai, kelompok "
            "humanware menurut jumlah orang; bobot kosong dihitung 1.",
        ),
        (
            "classes",
            "TCC",
            "Technology Contribution Coefficient TCC = T^bT * H^bH * I^bI * O^bO, with "
            f"each component's contribution (ll + s * (ul - ll)) / {hi}; the classes are:",
            "Koefisien Kontribusi Teknologi TCC = T^bT * H^bH * I^bI * O^bO, dengan "
            f"kontribusi tiap komponen (ll + s * (ul - ll)) / {hi}; kelasnya:",
        ),
    ]
    for band in settings["classes"]:
        level = band["level"]
        rows.append(
            (
                "classes",
                f"{_number(band['lower'])} < TCC <= {_number(band['upper'])}",
                f"{band['label']['en']} ({methodology.level_label(level, 'en')})",
                f"{band['label']['id']} ({methodology.level_label(level, 'id')})",
            )
        )
    return rows


def _criteria_rows(methodology: Methodology) -> list[tuple[str, str, str, str, float]]:
    return [
        (
            component["code"],
            criterion["code"],
            criterion["label"]["en"],
            criterion["label"]["id"],
            float(criterion.get("weight", 1)),
        )
        for component in methodology.components
        for criterion in component["criteria"]
    ]


def write_template(path: Path, methodology: Methodology) -> None:
    """Write a blank canonical workbook (contract sheets, criteria, notes) to ``path``."""
    import xlsxwriter

    path = Path(path)
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    try:
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        text = workbook.add_format({"num_format": "@"})
        date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        bold_wrap = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        criteria = _criteria_rows(methodology)
        components = list(COMPONENT_ORDER)

        for name, sheet in SHEETS.items():
            worksheet = workbook.add_worksheet(name)
            worksheet.freeze_panes(1, 0)
            for col, column in enumerate(sheet.columns):
                worksheet.write_string(0, col, column.name, header)
                width = max(12, len(column.name) + 2)
                if column.kind in ("text", "component"):
                    worksheet.set_column(col, col, width, text)
                elif column.kind == "date":
                    worksheet.set_column(col, col, width, date)
                else:
                    worksheet.set_column(col, col, width)
                _validate(worksheet, name, col, column, methodology, components, len(criteria))

        sheet = workbook.add_worksheet("criteria")
        sheet.freeze_panes(1, 0)
        for col, title in enumerate(("component", "criterion", "label_en", "label_id", "weight")):
            sheet.write_string(0, col, title, header)
        for row, (component, code, label_en, label_id, weight) in enumerate(criteria, start=1):
            sheet.write_string(row, 0, _text(component))
            sheet.write_string(row, 1, _text(code))
            sheet.write_string(row, 2, _text(label_en))
            sheet.write_string(row, 3, _text(label_id))
            sheet.write_number(row, 4, weight)
        sheet.set_column(0, 0, 11)
        sheet.set_column(1, 1, 28)
        sheet.set_column(2, 3, 36)

        notes = workbook.add_worksheet("notes")
        notes.freeze_panes(1, 0)
        for col, title in enumerate(_NOTES_HEADER):
            notes.write_string(0, col, title, header)
        for row, values in enumerate(_notes(methodology), start=1):
            for col, value in enumerate(values):
                notes.write_string(row, col, _text(value), bold_wrap if col == 0 else wrap)
        notes.set_column(0, 0, 15)
        notes.set_column(1, 1, 18)
        notes.set_column(2, 3, 70)
    finally:
        workbook.close()


def _validate(
    worksheet: Any,
    sheet: str,
    col: int,
    column: Any,
    methodology: Methodology,
    components: list[str],
    n_criteria: int,
) -> None:
    """Data validation of one template column (rows 2 to the sheet's end)."""
    rule: dict[str, Any] | None = None
    if column.kind == "component":
        rule = {
            "validate": "list",
            "source": components,
            "input_title": "Component / komponen",
            "input_message": "T, H, I or O / T, H, I atau O",
        }
    elif sheet == "sota" and column.name == "criterion":
        rule = {
            "validate": "list",
            "source": f"=criteria!$B$2:$B${n_criteria + 1}",
            "input_title": "Criterion / kriteria",
            "input_message": "A code of sheet criteria / kode pada sheet criteria",
        }
    elif sheet == "items" and column.name in ("ll", "ul"):
        rule = {
            "validate": "integer",
            "criteria": "between",
            "minimum": methodology.limit_min,
            "maximum": methodology.limit_max,
            "input_title": "Sophistication / kecanggihan",
            "input_message": f"{methodology.limit_min}..{methodology.limit_max}, ll <= ul",
        }
    elif sheet == "sota" and column.name == "score":
        rule = {
            "validate": "decimal",
            "criteria": "between",
            "minimum": methodology.sota_min,
            "maximum": methodology.sota_max,
            "input_title": "SOTA",
            "input_message": f"{_number(methodology.sota_min)}..{_number(methodology.sota_max)}",
        }
    elif sheet == "weights" and column.name == "beta":
        rule = {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1}
    elif sheet == "items" and column.name == "weight":
        rule = {"validate": "decimal", "criteria": ">", "value": 0}
    elif sheet == "firms" and column.name == "workers":
        rule = {"validate": "integer", "criteria": ">=", "value": 0}
    elif sheet == "firms" and column.name == "sample_weight":
        rule = {"validate": "decimal", "criteria": ">", "value": 0}
    elif sheet == "firms" and column.name == "size_class":
        rule = {"validate": "list", "source": ["micro", "small", "medium"]}
    elif sheet == "ahp" and column.name == "value":
        rule = {
            "validate": "any",
            "input_title": "Saaty 1/9 .. 9",
            "input_message": "1, 2, ..., 9 or 1/2, ..., 1/9 (see notes / lihat notes)",
        }
    if rule is not None:
        worksheet.data_validation(1, col, _LAST_ROW, col, rule)
