"""Build the sample XLSForm of the thio survey and the shipped mapping files read from it.

    .venv/bin/python schemas/forms/build_form.py      # rewrites thio_survey.xlsx and
                                                      # schemas/mappings/*.yaml

The form is what an enumerator fills in at one firm: a firm block, one repeat per component
(facilities, worker groups, information, organisation -- one row per assessed item, its
sophistication limits and its SOTA score on each criterion of the component, by assessor 1
and, when there is one, assessor 2), the given intensities (only for a firm that does no
pairwise comparison) and one repeat per AHP respondent with the six pair judgments.

The form is data (:func:`survey_rows`, :data:`CHOICES`); :func:`form_tables` walks it into
the tables an export has (the submission and one per repeat) with each field's XML path and
label path, which the fixture exports (``tests/fixtures/exports``) and the mapping files
(:func:`mapping_documents`) are derived from, so the form, the exports and the mappings
cannot drift apart. ``tests/thio/test_mapping.py`` checks that the committed files are what
this script writes.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from thio.methodology import COMPONENT_ORDER, load_methodology  # noqa: E402

FORM_PATH = Path(__file__).resolve().parent / "thio_survey.xlsx"
MAPPINGS_DIR = REPO / "schemas" / "mappings"
FORM_ID = "thio_survey"
FORM_TITLE = "THIO technometric survey"
FORM_VERSION = "2024010101"
MAIN = "submission"  # the table of the submissions (one row per firm)

COMPONENT_REPEATS = {
    "T": ("t_items", "Technoware: facilities (one per facility)", "Facility"),
    "H": ("h_items", "Humanware: worker groups (one per group)", "Worker group"),
    "I": ("i_items", "Infoware: information (one per kind of information)", "Information"),
    "O": ("o_items", "Orgaware: organisation", "Organisation aspect"),
}
# Saaty's scale as choices: the name is an XML-safe token, the value thio reads is "3" or "1/3"
_INTENSITY = {
    1: "equally important",
    2: "equally to moderately",
    3: "moderately",
    4: "moderately to strongly",
    5: "strongly",
    6: "strongly to very strongly",
    7: "very strongly",
    8: "very strongly to extremely",
    9: "extremely",
}
SAATY = [
    *[(str(k), str(k), f"{k} - first {_INTENSITY[k]} more important") for k in range(9, 1, -1)],
    ("1", "1", "1 - both equally important"),
    *[(f"1_{k}", f"1/{k}", f"1/{k} - second {_INTENSITY[k]} more important") for k in range(2, 10)],
]
AHP_PAIRS = [("T", "H"), ("T", "I"), ("T", "O"), ("H", "I"), ("H", "O"), ("I", "O")]
COMPONENT_NAMES = {"T": "technoware", "H": "humanware", "I": "infoware", "O": "orgaware"}
SECTORS = [
    ("10", "Industri makanan"),
    ("13", "Industri tekstil"),
    ("14", "Industri pakaian jadi"),
    ("22", "Industri karet dan barang dari karet dan plastik"),
    ("31", "Industri furnitur"),
]
REGIONS = [("6474", "Kota Bontang"), ("1671", "Kota Palembang")]
SIZES = [("micro", "Micro (1-4 workers)"), ("small", "Small (5-19 workers)"),
         ("medium", "Medium (20-99 workers)")]  # fmt: skip
CHOICES: dict[str, list[tuple[str, str]]] = {
    "sector": SECTORS,
    "region": REGIONS,
    "size": SIZES,
    "yes_no": [("yes", "Yes"), ("no", "No")],
    "saaty": [(name, label) for name, _, label in SAATY],
}
SURVEY_COLUMNS = ("type", "name", "label", "hint", "required", "relevant", "constraint",
                  "calculation")  # fmt: skip


def pair_name(row: str, col: str) -> str:
    """The field of the judgment "row compared with col" (``ahp_th``)."""
    return f"ahp_{row.lower()}{col.lower()}"


def sota_name(component: str, assessor: int, criterion: str) -> str:
    """The field of one SOTA score (``t1_op_complexity``: technoware, assessor 1)."""
    return f"{component.lower()}{assessor}_{criterion.split('.', 1)[1]}"


def survey_rows() -> list[dict[str, str]]:
    """The survey sheet of the form, one dict per row (columns :data:`SURVEY_COLUMNS`)."""
    methodology = load_methodology()
    labels = {
        criterion["code"]: criterion["label"]["en"]
        for component in methodology.components
        for criterion in component["criteria"]
    }
    criteria = methodology.criteria()
    rows: list[dict[str, str]] = [
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
        {"type": "begin_group", "name": "firm", "label": "Firm"},
        {"type": "text", "name": "firm_id", "label": "Firm ID", "required": "yes",
         "hint": "As in the sample frame, e.g. BTG-10-0001",
         "constraint": "regex(., '^[A-Za-z0-9._-]{1,64}$')"},
        {"type": "text", "name": "firm_name", "label": "Firm name", "required": "yes"},
        {"type": "select_one sector", "name": "sector", "label": "Sector (KBLI)",
         "required": "yes"},
        {"type": "select_one region", "name": "region", "label": "Region", "required": "yes"},
        {"type": "select_one size", "name": "size_class", "label": "Size class"},
        {"type": "integer", "name": "workers", "label": "Number of workers",
         "constraint": ". >= 0"},
        {"type": "date", "name": "survey_date", "label": "Date of the visit",
         "required": "yes"},
        {"type": "text", "name": "enumerator", "label": "Enumerator code"},
        {"type": "select_one yes_no", "name": "second_assessor",
         "label": "Does a second assessor rate the items?", "required": "yes"},
        {"type": "end_group"},
    ]  # fmt: skip
    for component in COMPONENT_ORDER:
        repeat, repeat_label, item_label = COMPONENT_REPEATS[component]
        c = component.lower()
        rows += [
            {"type": "begin_repeat", "name": repeat, "label": repeat_label},
            {"type": "calculate", "name": f"{c}_item_id",
             "calculation": f"concat('{component}', position(..))"},
            {"type": "text", "name": f"{c}_item_name", "label": item_label, "required": "yes"},
        ]  # fmt: skip
        if component == "T":
            rows.append({"type": "decimal", "name": "t_weight",
                         "label": "Value of the facility (million Rp)",
                         "hint": "Blank: the facility counts with weight 1",
                         "constraint": ". > 0"})  # fmt: skip
        if component == "H":
            rows.append({"type": "integer", "name": "h_workers",
                         "label": "Workers in this group", "constraint": ". > 0"})  # fmt: skip
        rows += [
            {"type": "integer", "name": f"{c}_ll", "label": "Lower limit of sophistication",
             "required": "yes", "constraint": ". >= 1 and . <= 9"},
            {"type": "integer", "name": f"{c}_ul", "label": "Upper limit of sophistication",
             "required": "yes", "constraint": f". >= ${{{c}_ll}} and . <= 9"},
        ]  # fmt: skip
        for assessor in (1, 2):
            group = {"type": "begin_group", "name": f"{c}_sota{assessor}",
                     "label": f"State of the art, assessor {assessor}"}  # fmt: skip
            if assessor == 2:
                group["relevant"] = "${second_assessor} = 'yes'"
            rows.append(group)
            for criterion in criteria[component]:
                rows.append(
                    {"type": "decimal", "name": sota_name(component, assessor, criterion),
                     "label": f"{labels[criterion]} (0-10)", "required": "yes",
                     "constraint": ". >= 0 and . <= 10"}
                )  # fmt: skip
            rows.append({"type": "end_group"})
        rows.append({"type": "end_repeat"})
    rows += [
        {"type": "begin_repeat", "name": "ahp",
         "label": "Pairwise comparisons (one per respondent)"},
        {"type": "text", "name": "ahp_respondent", "label": "Respondent", "required": "yes"},
    ]  # fmt: skip
    for row, col in AHP_PAIRS:
        rows.append(
            {"type": "select_one saaty", "name": pair_name(row, col), "required": "yes",
             "label": f"{COMPONENT_NAMES[row]} (first) compared with {COMPONENT_NAMES[col]} "
                      "(second)"}
        )  # fmt: skip
    rows.append({"type": "end_repeat"})
    rows.append({"type": "begin_group", "name": "weights",
                 "label": "Given intensities (only for a firm without pairwise comparisons)",
                 "relevant": "count(${ahp_respondent}) = 0"})  # fmt: skip
    for component in COMPONENT_ORDER:
        rows.append({"type": "decimal", "name": f"beta_{component.lower()}",
                     "label": f"Intensity of {COMPONENT_NAMES[component]} (0-1)",
                     "constraint": ". > 0 and . < 1"})  # fmt: skip
    rows.append({"type": "end_group"})
    return rows


@dataclass(frozen=True)
class Field:
    """One field of an export table: its name, type, XML path and label path."""

    name: str
    type: str
    path: tuple[str, ...]  # group and repeat names from the form's root, then the name
    labels: tuple[str, ...]  # the same path as labels (the name where there is no label)


def form_tables(rows: list[dict[str, str]] | None = None) -> dict[str, list[Field]]:
    """The export's tables: :data:`MAIN` (one row per submission) and one per repeat,
    each with its data fields in form order (groups flattened into paths)."""
    rows = survey_rows() if rows is None else rows
    tables: dict[str, list[Field]] = {MAIN: []}
    stack: list[tuple[str, str, str]] = []  # (kind, name, label) of the open groups
    for row in rows:
        kind = row["type"]
        if kind in ("begin_group", "begin_repeat"):
            stack.append((kind, row["name"], row.get("label") or row["name"]))
            if kind == "begin_repeat":
                tables[row["name"]] = []
            continue
        if kind in ("end_group", "end_repeat"):
            stack.pop()
            continue
        repeats = [name for k, name, _ in stack if k == "begin_repeat"]
        table = repeats[-1] if repeats else MAIN
        tables[table].append(
            Field(
                name=row["name"],
                type=kind,
                path=(*[name for _, name, _ in stack], row["name"]),
                labels=(*[label for _, _, label in stack], row.get("label") or row["name"]),
            )
        )
    return tables


def write_form(path: Path = FORM_PATH) -> Path:
    """Write the XLSForm (survey, choices and settings sheets) to ``path``, byte-stable."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    # a fixed creation time: the same form gives the same bytes
    workbook.set_properties({"created": dt.datetime(2024, 1, 1)})
    bold = workbook.add_format({"bold": True})
    survey = workbook.add_worksheet("survey")
    survey.write_row(0, 0, SURVEY_COLUMNS, bold)
    for index, row in enumerate(survey_rows(), start=1):
        survey.write_row(index, 0, [row.get(column, "") for column in SURVEY_COLUMNS])
    choices = workbook.add_worksheet("choices")
    choices.write_row(0, 0, ("list_name", "name", "label"), bold)
    index = 1
    for list_name, options in CHOICES.items():
        for name, label in options:
            choices.write_row(index, 0, (list_name, name, label))
            index += 1
    settings = workbook.add_worksheet("settings")
    settings.write_row(0, 0, ("form_title", "form_id", "version", "default_language"), bold)
    settings.write_row(1, 0, (FORM_TITLE, FORM_ID, FORM_VERSION, "English (en)"))
    workbook.close()
    return path


# ---------------------------------------------------------------- the mapping files

# How each export names things (see tests/fixtures/exports for the exports themselves).
KOBO_META = ("_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
             "_submitted_by", "__version__", "_tags", "_index")  # fmt: skip
KOBO_REPEAT_META = ("_index", "_parent_table_name", "_parent_index", "_submission__id",
                    "_submission__uuid", "_submission__submission_time",
                    "_submission__validation_status")  # fmt: skip
ODK_META = ("meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
            "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits",
            "FormVersion")  # fmt: skip
SURVEYCTO_HEAD = ("SubmissionDate", "starttime", "endtime", "deviceid", "subscriberid",
                  "simid", "devicephonenum", "username")  # fmt: skip
SURVEYCTO_TAIL = ("instanceID", "formdef_version", "review_status", "KEY")


class _Flow(dict):
    """A mapping written in YAML's flow style ({a: 1, b: 2}), for one-line entries."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every entry written out in full: no &id001 anchors


_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, True)
)


def _header(style: str, field: Field) -> str:
    if style == "kobo_xml":
        return "/".join(field.path)
    if style == "kobo_labels":
        return "/".join(field.labels)
    if style == "odk":
        return "-".join(field.path)
    return field.name  # SurveyCTO: the field's name (a repeat's columns add _1, _2, ...)


def export_header(style: str, table: str) -> dict[str, str]:
    """Field name -> column header of ``table`` in an export of ``style``."""
    return {field.name: _header(style, field) for field in form_tables()[table]}


def _choice_map(options: list[tuple[str, str]], *, to: str) -> dict[str, str]:
    """label -> name (``to="name"``) or name -> label (``to="label"``)."""
    if to == "name":
        return {label: name for name, label in options}
    return {name: label for name, label in options}


def mapping_documents() -> dict[str, tuple[str, dict[str, Any]]]:
    """File name -> (header comment, mapping document) of each shipped mapping."""
    documents = {}
    for style, file_name, comment in (
        ("kobo_xml", "kobo_xml.yaml",
         "KoboToolbox XLSX export of thio_survey, 'XML values and headers', group names in\n"
         "headers ('/' separator). Keeps approved and not yet validated submissions."),
        ("kobo_labels", "kobo_labels.yaml",
         "KoboToolbox XLSX export of thio_survey with label headers and label values\n"
         "(English). Choice labels are mapped back to the codes the contract reads."),
        ("odk", "odk_central.yaml",
         "ODK Central 'CSV files (.zip)' export of thio_survey: one CSV per repeat, '-' group\n"
         "separator. Keeps approved and not yet reviewed (blank ReviewState) submissions."),
        ("surveycto", "surveycto.yaml",
         "SurveyCTO wide CSV export of thio_survey (repeats as columns <field>_1, _2, ...).\n"
         "Dates are in SurveyCTO's default format (Jan 15, 2024)."),
    ):  # fmt: skip
        documents[file_name] = (comment, _mapping(style))
    return documents


def _mapping(style: str) -> dict[str, Any]:
    labels = style == "kobo_labels"
    main = export_header(style, MAIN)
    methodology = load_methodology()
    criteria = methodology.criteria()
    repeats = [COMPONENT_REPEATS[c][0] for c in COMPONENT_ORDER] + ["ahp"]

    tables: dict[str, Any] = {}
    if style in ("kobo_xml", "kobo_labels"):
        tables["submissions"] = {
            "sheet": FORM_TITLE,
            "key": "_index",
            "keep": {
                "column": "_validation_status",
                "values": ["Approved"] if labels else ["validation_status_approved"],
                "blank": True,
            },
        }
        for repeat in repeats:
            tables[repeat] = {"sheet": repeat, "parent": "submissions", "link": "_parent_index"}
        fmt = "kobo_xlsx"
    elif style == "odk":
        tables["submissions"] = {
            "sheet": f"{FORM_ID}.csv",
            "key": "KEY",
            "keep": {"column": "ReviewState", "values": ["approved"], "blank": True},
        }
        for repeat in repeats:
            tables[repeat] = {
                "sheet": f"{FORM_ID}-{repeat}.csv",
                "parent": "submissions",
                "link": "PARENT_KEY",
            }
        fmt = "odk_zip"
    else:
        tables["submissions"] = {
            "keep": {"column": "review_status", "values": ["approved"], "blank": True}
        }
        for repeat in repeats:
            tables[repeat] = {"parent": "submissions", "wide": True}
        fmt = "surveycto_csv"

    def code(field: str, list_name: str) -> Any:
        column = main[field]
        if labels:
            return {"column": column, "map": _choice_map(CHOICES[list_name], to="name")}
        return column

    def name_of(field: str, list_name: str) -> Any:
        column = main[field]
        if labels:
            return column  # the label is the name
        return {"column": column, "map": _choice_map(CHOICES[list_name], to="label")}

    survey_date: Any = main["survey_date"]
    if style == "surveycto":
        survey_date = _Flow(column=survey_date, date_format="%b %d, %Y")
    firm_columns = {
        "round_id": _Flow(run="round_id"),
        "firm_id": main["firm_id"],
        "firm_name": main["firm_name"],
        "sector_code": code("sector", "sector"),
        "sector_name": name_of("sector", "sector"),
        "region_code": code("region", "region"),
        "region_name": name_of("region", "region"),
        "size_class": code("size_class", "size"),
        "workers": main["workers"],
        "survey_date": survey_date,
        "enumerator": main["enumerator"],
    }
    sheets: dict[str, Any] = {"firms": [{"table": "submissions", "columns": firm_columns}]}
    firm_of_parent = _Flow(parent=main["firm_id"])
    items, sota = [], []
    for component in COMPONENT_ORDER:
        repeat = COMPONENT_REPEATS[component][0]
        header = export_header(style, repeat)
        c = component.lower()
        key_columns = {
            "firm_id": firm_of_parent,
            "component": _Flow(value=component),
            "item_id": header[f"{c}_item_id"],
        }
        item_columns = {**key_columns, "item_name": header[f"{c}_item_name"]}
        if component == "T":
            item_columns["weight"] = header["t_weight"]
        if component == "H":
            item_columns["weight"] = header["h_workers"]
        item_columns["ll"] = header[f"{c}_ll"]
        item_columns["ul"] = header[f"{c}_ul"]
        items.append({"table": repeat, "columns": item_columns})
        cells = {
            header[sota_name(component, assessor, criterion)]: _Flow(
                criterion=criterion, rater=str(assessor)
            )
            for assessor in (1, 2)
            for criterion in criteria[component]
        }
        sota.append(
            {"table": repeat, "columns": key_columns, "melt": {"into": "score", "cells": cells}}
        )
    sheets["items"] = items
    sheets["sota"] = sota
    ahp_header = export_header(style, "ahp")
    ahp_melt: dict[str, Any] = {
        "into": "value",
        "cells": {ahp_header[pair_name(r, c)]: _Flow(row=r, col=c) for r, c in AHP_PAIRS},
    }
    saaty_names = {label if labels else name: value for name, value, label in SAATY}
    ahp_melt["map"] = {key: value for key, value in saaty_names.items() if key != value}
    sheets["ahp"] = [
        {
            "table": "ahp",
            "columns": {"firm_id": firm_of_parent, "respondent": ahp_header["ahp_respondent"]},
            "melt": ahp_melt,
        }
    ]
    sheets["weights"] = [
        {
            "table": "submissions",
            "columns": {"firm_id": main["firm_id"]},
            "melt": {
                "into": "beta",
                "cells": {main[f"beta_{c.lower()}"]: _Flow(component=c) for c in COMPONENT_ORDER},
            },
        }
    ]
    return {"format": fmt, "tables": tables, "sheets": sheets}


def write_mappings(folder: Path = MAPPINGS_DIR) -> list[Path]:
    """Write the shipped mapping files to ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, (comment, document) in mapping_documents().items():
        text = "".join(f"# {line}\n" for line in comment.splitlines())
        text += "# Written by schemas/forms/build_form.py from the form; edit the form, not this.\n"
        text += yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    print(write_form())
    for written in write_mappings():
        print(written)
