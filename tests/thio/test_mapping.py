"""Mapping files (thio.mapping): survey-tool exports read as the input contract's sheets.

The exports are those of the shipped sample form, generated from a canonical round
(tests/fixtures/exports/generate.py); what each export must read as is that canonical
round itself, never the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import fastexcel
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from schemas.forms import build_form
from tests.fixtures.exports.generate import (
    canonical_round,
    submissions,
    write_all,
    write_kobo_xlsx,
    write_odk_zip,
    write_surveycto_csv,
)
from thio.cli import cli
from thio.contract import SHEETS
from thio.ingest import ingest_inputs
from thio.mapping import MappingError, check_export, load_mapping, read_export
from thio.methodology import load_methodology
from thio.validation import validate_round

MAPPINGS = build_form.MAPPINGS_DIR
ROUND = "2024Q1"
EXPORTS = {  # mapping file -> export written by write_all
    "kobo_xml": "kobo_xml",
    "kobo_labels": "kobo_labels",
    "odk_central": "odk_central",
    "surveycto": "surveycto",
}
NUMERIC = {"workers", "sample_weight", "weight", "ll", "ul", "score", "beta"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """The canonical workbook and the four exports of the same 20 firms (+1 rejected)."""
    return write_all(tmp_path_factory.mktemp("exports"), 20, rejected=1)


@pytest.fixture(scope="module")
def canonical() -> dict:
    return canonical_round(20)


def _mapping(name: str):
    return load_mapping(MAPPINGS / f"{name}.yaml")


def _normal(sheet: str, column: str, value) -> object:
    """A cell compared by meaning: numbers as floats, dates as ISO text, blanks None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "date") and not isinstance(value, str):
        return value.date().isoformat()
    if column in NUMERIC or (sheet == "ahp" and column == "value" and "/" not in str(value)):
        return float(value)
    return str(value)


def _rows(sheet: str, records: list[dict]) -> list[tuple]:
    names = SHEETS[sheet].column_names
    return sorted(
        (tuple(_normal(sheet, n, r.get(n)) for n in names) for r in records),
        key=lambda row: tuple("" if v is None else str(v) for v in row),
    )


# ---------------------------------------------------------------- shipped files


def test_shipped_mappings_and_form_are_what_the_generator_writes(tmp_path):
    written = build_form.write_mappings(tmp_path)
    for path in written:
        assert path.read_text() == (MAPPINGS / path.name).read_text(), path.name
        load_mapping(path)  # and each one loads
    form = fastexcel.read_excel(build_form.FORM_PATH)
    assert form.sheet_names == ["survey", "choices", "settings"]
    survey = form.load_sheet("survey", dtypes="string").to_pandas().fillna("")
    want = [[row.get(c, "") for c in build_form.SURVEY_COLUMNS] for row in build_form.survey_rows()]
    assert survey[list(build_form.SURVEY_COLUMNS)].values.tolist() == want
    settings = form.load_sheet("settings", dtypes="string").to_pandas()
    assert settings["form_id"].tolist() == ["thio_survey"]


def test_the_form_has_one_repeat_per_component_sota_per_criterion_and_six_pairs():
    tables = build_form.form_tables()
    assert list(tables) == ["submission", "t_items", "h_items", "i_items", "o_items", "ahp"]
    criteria = load_methodology().criteria()
    for component, (repeat, _, _) in build_form.COMPONENT_REPEATS.items():
        scores = [f for f in tables[repeat] if f.type == "decimal" and "sota" in f.path[1]]
        # each criterion of the component, by assessor 1 and assessor 2
        assert len(scores) == 2 * len(criteria[component])
    pairs = [f.name for f in tables["ahp"] if f.type == "select_one saaty"]
    assert pairs == ["ahp_th", "ahp_ti", "ahp_to", "ahp_hi", "ahp_ho", "ahp_io"]


# ---------------------------------------------------------------- every export, same round


@pytest.mark.parametrize("name", list(EXPORTS))
def test_each_export_reads_as_the_canonical_round(exports, canonical, name):
    export = read_export(_mapping(name), exports[EXPORTS[name]], "export", ROUND)
    assert sorted(export.sheets) == ["ahp", "firms", "items", "sota", "weights"]
    for sheet, frame in canonical.items():
        got = export.sheets[sheet].to_pylist()
        want = frame.to_dict("records")
        if sheet == "firms":
            for row in want:
                row["round_id"] = ROUND  # the round id comes from the run
        assert len(got) == len(want), sheet
        assert _rows(sheet, got) == _rows(sheet, want), sheet
    # the rejected copy of the first firm's interview is left out, and said so
    assert len(export.notes) == 1
    assert "1 row left out" in export.notes[0]


def test_provenance_points_at_the_export_cell(exports):
    """Every mapped items row's ll is the cell at (_sheet, _row, the ll column) of the export."""
    for name, column in (("kobo_xml", "t_items/t_ll"), ("odk_central", "t_items-t_ll")):
        export = read_export(_mapping(name), exports[name], "export", ROUND)
        items = export.sheets["items"].to_pylist()
        t_items = [row for row in items if row["component"] == "T"]
        assert {row["_sheet"] for row in t_items} == (
            {"t_items"} if name == "kobo_xml" else {"thio_survey-t_items.csv"}
        )
        if name == "kobo_xml":
            sheet = fastexcel.read_excel(exports[name]).load_sheet("t_items", dtypes="string")
            cells = sheet.to_pandas()[column].tolist()
            at = {index + 2: value for index, value in enumerate(cells)}  # header is row 1
        else:
            with zipfile.ZipFile(exports[name]) as archive:
                text = archive.read("thio_survey-t_items.csv").decode()
            rows = list(csv.DictReader(io.StringIO(text)))
            at = {index + 2: row[column] for index, row in enumerate(rows)}
        for row in t_items:
            assert float(at[row["_row"]]) == float(row["ll"]), row
        # the first firm's T2 is the second data row of t_items (row 3)
        first = next(r for r in t_items if r["firm_id"] == "BTG-10-0001" and r["item_id"] == "T2")
        assert first["_row"] == 3
    # SurveyCTO: the submission's row in the one CSV file (header row 1)
    export = read_export(_mapping("surveycto"), exports["surveycto"], "export", ROUND)
    sota = export.sheets["sota"].to_pylist()
    second_firm = [r for r in sota if r["firm_id"] == "BTG-10-0002"]
    assert {(r["_sheet"], r["_row"]) for r in second_firm} == {("thio_survey_WIDE", 3)}


def test_melted_sota_rows_are_long_and_blank_cells_make_no_row(exports, canonical):
    export = read_export(_mapping("kobo_xml"), exports["kobo_xml"], "export", ROUND)
    sota = export.sheets["sota"].to_pylist()
    # BTG-10-0001's T1: five technoware criteria by assessor 1 then five by assessor 2,
    # all from the one t_items row 2
    t1 = [r for r in sota if r["firm_id"] == "BTG-10-0001" and r["item_id"] == "T1"]
    assert [(r["criterion"], r["rater"]) for r in t1][:6] == [
        ("T.op_complexity", "1"),
        ("T.precision", "1"),
        ("T.control", "1"),
        ("T.automation", "1"),
        ("T.maintenance", "1"),
        ("T.op_complexity", "2"),
    ]
    assert {r["_row"] for r in t1} == {2}
    # firms without a second assessor have assessor-2 cells blank: no rater-2 rows at all
    one_rater = set(canonical["firms"]["firm_id"]) - set(
        canonical["sota"].loc[canonical["sota"]["rater"] == "2", "firm_id"]
    )
    assert one_rater
    assert not [r for r in sota if r["firm_id"] in one_rater and r["rater"] == "2"]


# ---------------------------------------------------------------- through ingest and validation


def _ingest_validate(tmp_path: Path, mapping: Path, export: Path) -> tuple[dict, dict, list]:
    work = tmp_path / "work"
    ingest = ingest_inputs([export], ROUND, tmp_path / "home", work, mapping)
    validation = validate_round(work, ROUND, load_methodology()) if ingest["ok"] else None
    quarantine = pq.read_table(work / "quarantine.parquet").to_pylist() if validation else []
    return ingest, validation or {}, quarantine


def _small(**kwargs):
    return submissions(canonical_round(3), **kwargs)


def _rewrite_zip(path: Path, member: str, change) -> None:
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    contents[member] = change(contents[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in contents.items():
            archive.writestr(name, content)


def test_ingest_records_the_mapping_and_archives_the_export(tmp_path):
    export = write_odk_zip(_small(rejected=1), tmp_path / "odk.zip")
    mapping = MAPPINGS / "odk_central.yaml"
    ingest, validation, quarantine = _ingest_validate(tmp_path, mapping, export)
    assert ingest["mapping"]["sha256"] == load_mapping(mapping).sha256
    assert ingest["mapping"]["format"] == "odk_zip"
    # the mapping is kept beside the archived exports, as it was when the round was read
    archived = tmp_path / "home" / ingest["mapping"]["archived_as"]
    assert archived == tmp_path / "home" / "mappings" / f"{ingest['mapping']['sha256']}.yaml"
    assert archived.read_bytes() == mapping.read_bytes()
    (record,) = ingest["files"]
    assert record["status"] == "read"
    assert record["archived_as"] == f"raw/{ROUND}/{record['sha256']}.zip"
    assert (tmp_path / "home" / record["archived_as"]).read_bytes() == export.read_bytes()
    assert record["rows_read"]["firms"] == 3
    assert record["notes"] == [
        "odk.zip, sheet thio_survey.csv: 1 row left out (ReviewState not approved or blank), "
        "with their repeat rows"
    ]
    assert quarantine == []
    assert validation["n_firms_accepted"] == 3
    raw = pq.read_table(tmp_path / "work" / "raw" / "items.parquet").to_pylist()
    assert {r["_file"] for r in raw} == {"odk.zip"}
    assert {r["_sheet"] for r in raw} == {
        "thio_survey-t_items.csv",
        "thio_survey-h_items.csv",
        "thio_survey-i_items.csv",
        "thio_survey-o_items.csv",
    }


def test_review_filter_is_configurable(tmp_path):
    """Only approved submissions: the blank ReviewState ones are left out too."""
    export = write_odk_zip(_small(rejected=1), tmp_path / "odk.zip")
    document = yaml.safe_load((MAPPINGS / "odk_central.yaml").read_text())
    document["tables"]["submissions"]["keep"] = {"column": "ReviewState", "values": ["approved"]}
    mapping = tmp_path / "approved_only.yaml"
    mapping.write_text(yaml.safe_dump(document))
    result = read_export(load_mapping(mapping), export, "odk.zip", ROUND)
    # of the three firms only the first is approved (and the rejected copy is out)
    assert [r["firm_id"] for r in result.sheets["firms"].to_pylist()] == ["BTG-10-0001"]
    assert {r["firm_id"] for r in result.sheets["items"].to_pylist()} == {"BTG-10-0001"}
    assert result.notes == [
        "odk.zip, sheet thio_survey.csv: 3 rows left out (ReviewState not approved), "
        "with their repeat rows"
    ]


def test_kobo_validation_status_filter_leaves_out_not_approved(tmp_path):
    export = write_kobo_xlsx(_small(rejected=1), tmp_path / "kobo.xlsx")
    result = read_export(_mapping("kobo_xml"), export, "kobo.xlsx", ROUND)
    firms = result.sheets["firms"].to_pylist()
    canonical = canonical_round(3)["firms"]
    # the three firms with their own answers, not the rejected copy's 99 workers
    assert [(r["firm_id"], r["workers"]) for r in firms] == [
        (firm_id, str(workers))
        for firm_id, workers in zip(canonical["firm_id"], canonical["workers"], strict=True)
    ]
    assert "99" not in {r["workers"] for r in firms}
    # the rejected copy's technoware items (ll 9) are left out with it
    assert "9" not in {r["ll"] for r in result.sheets["items"].to_pylist()}


def test_an_orphan_repeat_row_is_quarantined_with_its_place(tmp_path):
    export = write_odk_zip(_small(), tmp_path / "odk.zip")
    # the second t_items row points at a submission that is not in the export
    _rewrite_zip(
        export,
        "thio_survey-t_items.csv",
        lambda text: text.replace(
            "\n".join(text.splitlines()[2:3]),
            text.splitlines()[2].replace("uuid:", "uuid:gone-", 1),
        ),
    )
    _, validation, quarantine = _ingest_validate(tmp_path, MAPPINGS / "odk_central.yaml", export)
    required = [q for q in quarantine if q["rule"] == "required" and q["sheet"] == "items"]
    assert [(q["_sheet"], q["_row"], q["column_name"]) for q in required] == [
        ("thio_survey-t_items.csv", 3, "firm_id")
    ]
    assert required[0]["message"].startswith(
        "odk.zip, sheet thio_survey-t_items.csv, row 3, column firm_id: "
    )
    # its SOTA rows (melted from the same export row) are quarantined too, at the same place
    sota = [q for q in quarantine if q["sheet"] == "sota" and q["column_name"] == "firm_id"]
    assert {(q["_sheet"], q["_row"]) for q in sota} == {("thio_survey-t_items.csv", 3)}
    assert len(sota) == 10  # five criteria by two assessors
    assert validation["sheets"]["items"]["rows_quarantined"] == 1


def test_an_unknown_choice_label_reaches_validation_verbatim(tmp_path):
    data = _small()
    export = write_kobo_xlsx(data, tmp_path / "kobo.xlsx", labels=True)
    # an enumerator's form of another version: a sector label the mapping does not know
    import openpyxl

    book = openpyxl.load_workbook(export)
    sheet = book[build_form.FORM_TITLE]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Firm/Sector (KBLI)") + 1
    sheet.cell(row=3, column=column, value="Industri kertas")
    book.save(export)
    _, validation, quarantine = _ingest_validate(tmp_path, MAPPINGS / "kobo_labels.yaml", export)
    problem = [q for q in quarantine if q["column_name"] == "sector_code"]
    assert len(problem) == 1
    assert (problem[0]["_sheet"], problem[0]["_row"], problem[0]["value"]) == (
        build_form.FORM_TITLE,
        3,
        "Industri kertas",
    )
    assert problem[0]["message"].startswith(
        f"kobo.xlsx, sheet {build_form.FORM_TITLE}, row 3, column sector_code: "
    )
    assert validation["n_firms_accepted"] == 2


def test_surveycto_dates_are_read_and_a_bad_one_is_quarantined(tmp_path):
    export = write_surveycto_csv(_small(), tmp_path / "wide.csv")
    text = export.read_text()
    rows = list(csv.reader(io.StringIO(text)))
    date_at = rows[0].index("survey_date")
    first_date = rows[1][date_at]
    rows[2][date_at] = "31/02/2024"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    export.write_text(buffer.getvalue())
    _, _, quarantine = _ingest_validate(tmp_path, MAPPINGS / "surveycto.yaml", export)
    raw = pq.read_table(tmp_path / "work" / "raw" / "firms.parquet").to_pylist()
    canonical = canonical_round(3)["firms"]
    assert first_date == canonical["survey_date"][0].strftime("%b %-d, %Y")
    assert raw[0]["survey_date"] == canonical["survey_date"][0].date().isoformat()
    bad = [q for q in quarantine if q["column_name"] == "survey_date"]
    assert [(q["_sheet"], q["_row"], q["value"], q["rule"]) for q in bad] == [
        ("wide", 3, "31/02/2024", "type")
    ]


def test_a_missing_export_column_rejects_the_file_in_one_line(tmp_path):
    export = write_odk_zip(_small(), tmp_path / "odk.zip")
    _rewrite_zip(
        export,
        "thio_survey-h_items.csv",
        lambda text: text.replace("h_items-h_ul", "h_items-ul", 1),
    )
    ingest, _, _ = _ingest_validate(tmp_path, MAPPINGS / "odk_central.yaml", export)
    (record,) = ingest["files"]
    assert record["status"] == "rejected"
    assert record["message"] == (
        "odk.zip, sheet thio_survey-h_items.csv: column 'h_items-h_ul' missing (items.ul)"
    )
    assert ingest["ok"] is False


def test_an_export_of_another_format_is_rejected(tmp_path):
    export = write_odk_zip(_small(), tmp_path / "odk.zip")
    with pytest.raises(Exception) as raised:
        read_export(_mapping("kobo_xml"), export, "odk.zip", ROUND)
    assert str(raised.value).startswith("odk.zip: cannot be read as a workbook")
    csv_export = write_surveycto_csv(_small(), tmp_path / "wide.csv")
    ingest = ingest_inputs(
        [csv_export], ROUND, tmp_path / "home", tmp_path / "work", MAPPINGS / "odk_central.yaml"
    )
    assert ingest["files"][0]["message"] == "wide.csv: not a .zip of CSV files as odk_zip expects"


# ---------------------------------------------------------------- the mapping file itself


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(format="kobo"),
            "bad.yaml: format: 'kobo' is not one of kobo_xlsx, odk_zip, surveycto_csv",
        ),
        (
            lambda d: d["tables"]["t_items"].update(sheeet="t_items"),
            "bad.yaml: tables.t_items.sheeet: unknown key (expected one of sheet, key, keep, "
            "parent, link, wide)",
        ),
        (
            lambda d: d["sheets"]["items"][0]["columns"].update(weigth="t_items/t_weight"),
            "bad.yaml: sheets.items[0].columns.weigth: not a column of items (firm_id, "
            "component, item_id, item_name, weight, ll, ul)",
        ),
        (
            lambda d: d["sheets"]["items"][1]["columns"].pop("ll"),
            "bad.yaml: sheets.items[1]: required column ll of items not mapped",
        ),
        (
            lambda d: d["sheets"]["items"][0].update(table="t_itens"),
            "bad.yaml: sheets.items[0].table: no table 't_itens' (tables: submissions, t_items, "
            "h_items, i_items, o_items, ahp)",
        ),
        (
            lambda d: d["sheets"]["firms"][0]["columns"].update(round_id={"run": "round"}),
            "bad.yaml: sheets.firms[0].columns.round_id.run: 'round' is not one of round_id",
        ),
        (
            lambda d: d["sheets"]["firms"][0]["columns"].update(firm_id={"parent": "x"}),
            "bad.yaml: sheets.firms[0].columns.firm_id.parent: table submissions has no parent",
        ),
        (
            lambda d: d["sheets"].pop("sota"),
            "bad.yaml: sheets: the required contract sheet sota is not mapped",
        ),
        (
            lambda d: d["tables"]["t_items"].update(wide=True),
            "bad.yaml: tables.t_items.wide: only a SurveyCTO wide CSV (surveycto_csv) has wide "
            "repeats",
        ),
        (
            lambda d: d["sheets"]["ahp"][0]["melt"]["cells"]["ahp/ahp_th"].pop("col"),
            "bad.yaml: sheets.ahp[0].melt.cells.ahp/ahp_ti: every cell must give the same "
            "columns (row)",
        ),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_file_and_key(tmp_path, change, message):
    document = yaml.safe_load((MAPPINGS / "kobo_xml.yaml").read_text())
    change(document)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert str(raised.value) == message


def test_a_mapping_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("format: kobo_xlsx\ntables: [\n")
    with pytest.raises(MappingError, match=r"^bad.yaml: not valid YAML \(line 3\)$"):
        load_mapping(path)


# ---------------------------------------------------------------- thio mapping check


def test_mapping_check_lists_matched_missing_and_unused(exports):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["mapping", "check", str(MAPPINGS / "odk_central.yaml"), str(exports["odk_central"])]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "mapping odk_central.yaml (odk_zip) against thio_survey_odk.zip"
    assert "firms.firm_id [submissions]: matched (column 'firm-firm_id')" in lines
    assert "firms.round_id [submissions]: matched (the run's round_id)" in lines
    assert "items.firm_id [t_items]: matched (parent column 'firm-firm_id')" in lines
    assert "items.weight [i_items]: missing (optional): not mapped" in lines
    assert "sota.score [t_items]: matched (melted from 10 columns)" in lines
    assert "ahp.value [ahp]: matched (melted from 6 columns)" in lines
    assert "ahp.row [ahp]: matched (constant per melted column)" in lines
    assert "firms.sample_weight [submissions]: missing (optional): not mapped" in lines
    assert (
        "unused in thio_survey.csv: SubmissionDate, start, end, firm-second_assessor, "
        "meta-instanceID, SubmitterID, SubmitterName, AttachmentsPresent, AttachmentsExpected, "
        "Status, DeviceID, Edits, FormVersion" in lines
    )
    assert lines[-1] == "every required column is matched"
    # one line per (sheet, table, column) of the contract, plus unused lines and the verdict
    n_columns = sum(
        len(SHEETS[part.sheet].columns)
        for part in load_mapping(MAPPINGS / "odk_central.yaml").parts
    )
    assert sum(1 for line in lines if ": matched (" in line or ": missing (" in line) == n_columns


def test_mapping_check_fails_on_a_missing_required_column(tmp_path, exports):
    export = tmp_path / "odk.zip"
    export.write_bytes(exports["odk_central"].read_bytes())
    _rewrite_zip(
        export,
        "thio_survey-h_items.csv",
        lambda text: text.replace("h_items-h_ul", "h_items-ul", 1),
    )
    result = CliRunner().invoke(
        cli, ["mapping", "check", str(MAPPINGS / "odk_central.yaml"), str(export)]
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "items.ul [h_items]: missing (required): no column 'h_items-h_ul' in the export" in lines
    assert "unused in thio_survey-h_items.csv: h_items-ul, KEY" in lines
    assert lines[-1] == "1 required columns missing"
    report = check_export(load_mapping(MAPPINGS / "odk_central.yaml"), export)
    assert not report.ok


def test_mapping_check_names_a_sheet_the_export_lacks(tmp_path, exports):
    export = tmp_path / "odk.zip"
    with zipfile.ZipFile(exports["odk_central"]) as source, zipfile.ZipFile(export, "w") as copy:
        for info in source.infolist():
            if info.filename != "thio_survey-ahp.csv":
                copy.writestr(info, source.read(info))
    report = check_export(load_mapping(MAPPINGS / "odk_central.yaml"), export)
    assert not report.ok
    lines = report.text_lines()
    assert "note: table ahp: no sheet 'thio_survey-ahp.csv' in the export" in lines
    assert (
        "ahp.respondent [ahp]: missing (required): no column 'ahp-ahp_respondent' in the export"
        in lines
    )
    assert lines[-1] == "2 required columns missing"  # ahp's respondent and value


def test_mapping_check_usage_errors_exit_2_without_traceback(tmp_path, exports):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: nope\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["mapping", "check", str(bad), str(exports["odk_central"])])
    assert result.exit_code == 2
    assert result.output.strip() == "error: bad.yaml: tables: missing"
    missing = runner.invoke(cli, ["mapping", "check", str(tmp_path / "no.yaml"), "x.zip"])
    assert missing.exit_code == 2
    assert "Traceback" not in missing.output
    wrong = runner.invoke(
        cli, ["mapping", "check", str(MAPPINGS / "kobo_xml.yaml"), str(exports["odk_central"])]
    )
    assert wrong.exit_code == 1
    assert wrong.output.splitlines()[-2].startswith(
        "problem: thio_survey_odk.zip: cannot be read as a workbook"
    )


def test_ingest_json_is_plain_json(tmp_path, exports):
    ingest_inputs(
        [exports["surveycto"]], ROUND, tmp_path / "home", tmp_path / "work",
        MAPPINGS / "surveycto.yaml",
    )  # fmt: skip
    record = json.loads((tmp_path / "work" / "ingest.json").read_text())
    assert record["mapping"]["file"] == "surveycto.yaml"
    assert record["files"][0]["rows_read"] == {
        "firms": 20, "items": 108, "sota": 958, "ahp": 54, "weights": 4
    }  # fmt: skip
