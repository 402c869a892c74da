"""thio.template: the blank canonical workbook, its criteria and its bilingual notes."""

from __future__ import annotations

from pathlib import Path

import fastexcel
import openpyxl
import pytest
import python_calamine

from thio.contract import SHEETS
from thio.methodology import load_methodology
from thio.template import write_template

SCALES = ("sophistication", "sota", "ahp", "weights", "classes")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.xlsx"
    write_template(path, load_methodology())
    return path


def _rows(path: Path, sheet: str) -> list[list]:
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    return workbook.get_sheet_by_name(sheet).to_python()


def test_sheets_and_headers(template):
    workbook = python_calamine.CalamineWorkbook.from_path(str(template))
    assert workbook.sheet_names == [*SHEETS, "criteria", "notes"]
    for name, sheet in SHEETS.items():
        rows = _rows(template, name)
        assert rows == [sheet.column_names], name  # header only, no data
    reader = fastexcel.read_excel(str(template))
    assert reader.sheet_names == [*SHEETS, "criteria", "notes"]
    assert reader.load_sheet_by_name("items").to_pandas().columns.tolist() == (
        SHEETS["items"].column_names
    )


def test_headers_bold_components_validated_and_no_formulas(template):
    workbook = openpyxl.load_workbook(template)
    for name in SHEETS:
        assert all(cell.font.b for cell in workbook[name][1]), name
    lists = [
        dv.formula1 for dv in workbook["items"].data_validations.dataValidation if dv.type == "list"
    ]
    assert '"T,H,I,O"' in lists
    for name in ("sota", "weights", "ahp"):
        assert any(
            dv.formula1 == '"T,H,I,O"' for dv in workbook[name].data_validations.dataValidation
        ), name
    for worksheet in workbook.worksheets:
        for row in worksheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (worksheet.title, cell.coordinate)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value


def test_criteria_sheet_lists_every_criterion_with_both_labels(template):
    methodology = load_methodology()
    rows = _rows(template, "criteria")
    assert rows[0][:4] == ["component", "criterion", "label_en", "label_id"]
    listed: dict[str, list[str]] = {}
    for component, criterion, label_en, label_id, *_ in rows[1:]:
        listed.setdefault(component, []).append(criterion)
        assert label_en and label_id
    assert listed == methodology.criteria()


def test_notes_explain_each_scale_in_english_and_indonesian(template):
    methodology = load_methodology()
    rows = _rows(template, "notes")
    assert rows[0] == ["section", "item", "English", "Bahasa Indonesia"]
    body = rows[1:]
    for scale in SCALES:
        lines = [row for row in body if row[0] == scale]
        assert lines, scale
        assert all(row[2].strip() and row[3].strip() for row in lines), scale
        assert any(row[2] != row[3] for row in lines), scale  # really two languages
    descriptors = [row for row in body if row[0] == "sophistication" and row[1][0] in "THIO"]
    stages = methodology.settings["sophistication"]["descriptors"]
    assert len(descriptors) == 4 * len(stages)
    first = stages[0]
    assert any(first["T"]["en"] in row[2] and first["T"]["id"] in row[3] for row in descriptors)
    classes = [row for row in body if row[0] == "classes" and "TCC <=" in row[1]]
    assert len(classes) == len(methodology.settings["classes"])
    assert any("cukup" in row[3] and "fair" in row[2] for row in classes)
    ahp_items = {row[1] for row in body if row[0] == "ahp"}
    assert {"1", "3", "5", "7", "9"} <= ahp_items
    text = " ".join(row[2] + " " + row[3] for row in body)
    assert "0 (far below" in text and "0 (jauh di bawah" in text
