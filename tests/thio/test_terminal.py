"""Terminal output injection (issue 12, item 6): text from an input file (a file name, a firm
or sector name, a quarantined cell) never reaches the terminal raw. Every control character,
bidi control and line separator is printed as a visible escape, one value stays on one line,
and no input can print a line of its own (a forged "published" status line)."""

from __future__ import annotations

import re

import openpyxl
import pytest
from click.testing import CliRunner

from thio.cli import cli
from thio.contract import SHEETS
from thio.sample import generate_rounds, write_workbook
from thio.terminal import terminal_text

ROUND = "2024Q1"
FORGED = "round 2024Q1: version 9, 100 firms, published"
# an OSC window title, an erase-line + carriage return, a newline, a bidi override
HOSTILE = f"\x1b]0;pwned\x07\x1b[2K\r{FORGED}\n{FORGED}\u202e"
# the same text as it must be printed: every control visible, written out by hand
SHOWN = f"\\x1b]0;pwned\\x07\\x1b[2K\\r{FORGED}\\n{FORGED}\\u202e"
# anything a terminal acts on: C0 (but none is printed), DEL, C1, bidi controls, separators
RAW_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _assert_safe(output: str, *shown: str) -> None:
    for line in output.splitlines():
        assert not RAW_CONTROL.search(line), repr(line)
        assert line.strip() != FORGED, repr(line)
    for text in shown:
        assert text in output, text


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (
            "plain text, Usaha Jaya (Bontang) 10/31 é ü 中",
            "plain text, Usaha Jaya (Bontang) 10/31 é ü 中",
        ),
        ("a\nb", "a\\nb"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x1b[2K", "\\x1b[2K"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("x\u202ey\u2066z\u2069\u202a", "x\\u202ey\\u2066z\\u2069\\u202a"),
        ("one\u2028two\u2029", "one\\u2028two\\u2029"),
        (12.5, "12.5"),
        (None, "None"),
    ],
)
def test_terminal_text_makes_every_control_visible(value, printed):
    assert terminal_text(value) == printed


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory, prefect_harness):
    """A round of 80 firms in a workbook whose file name, one sector's name and one firm's
    name hold the hostile text, and one of whose infoware scores (the firm's only one for
    its criterion) is the hostile text: that firm is quarantined (1 of 80, under 5 %) and the
    round is published."""
    del prefect_harness
    tmp_path = tmp_path_factory.mktemp("hostile")
    (sheets,) = generate_rounds(n_firms=80, round_ids=(ROUND,), seed=11)
    firms, sota = sheets["firms"], sheets["sota"]
    raters = sota.groupby(["firm_id", "item_id", "criterion"])["score"].transform("size")
    single = sota[(sota["component"] == "I") & (raters == 1)]
    excluded, position = single["firm_id"].iloc[0], single.index[0]
    published = firms.loc[firms["firm_id"] != excluded, "firm_id"].iloc[0]
    sector = firms.loc[firms["firm_id"] == published, "sector_code"].iloc[0]
    firms["firm_name"] = firms["firm_name"].astype(object)
    firms["sector_name"] = firms["sector_name"].astype(object)
    firms.loc[firms["firm_id"].isin([excluded, published]), "firm_name"] = f"Usaha {HOSTILE}"
    firms.loc[firms["sector_code"] == sector, "sector_name"] = f"Sektor {HOSTILE}"
    workbook = tmp_path / f"survey{HOSTILE}.xlsx"
    write_workbook(sheets, workbook)
    # the score as a text cell; a workbook's XML holds a control character as an _x001B_
    # escape (as Excel writes it), which readers decode back to the character
    book = openpyxl.load_workbook(workbook)
    column = SHEETS["sota"].column_names.index("score") + 1
    cell = book["sota"].cell(row=position + 2, column=column)
    cell.value = re.sub("[\x00-\x1f]", lambda found: f"_x{ord(found[0]):04X}_", HOSTILE)
    cell.data_type = "s"
    book.save(workbook)
    home = tmp_path / "home"
    result = _run("run", "--home", str(home), "--round", ROUND, str(workbook))
    return {
        "home": home,
        "run": result,
        "excluded": excluded,
        "published": published,
        "row": position + 2,
        "rows": sum(len(frame) for name, frame in sheets.items() if name in SHEETS),
    }


def test_run_prints_the_file_name_and_the_quarantined_cell_escaped(hostile_home):
    result = hostile_home["run"]
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    _assert_safe(result.output)
    assert any(
        f"sheet sota, row {hostile_home['row']}, column score: " in line and SHOWN in line
        for line in lines
    ), lines
    assert lines[-1] == "round 2024Q1: version 1, 79 firms, published"


def test_quarantine_lists_the_hostile_cell_escaped(hostile_home):
    result = _run("quarantine", "--home", str(hostile_home["home"]), "--round", ROUND)
    assert result.exit_code == 0, result.output
    _assert_safe(result.output)
    where = f", sheet sota, row {hostile_home['row']}, column score: "
    assert [line for line in result.output.splitlines() if where in line and SHOWN in line]


def test_trace_prints_names_and_quarantined_values_escaped(hostile_home):
    home = str(hostile_home["home"])
    for firm in (hostile_home["excluded"], hostile_home["published"]):
        result = _run("trace", "--home", home, "--round", ROUND, "--firm", firm)
        assert result.exit_code == 0, result.output
        _assert_safe(result.output, f"firm_name=Usaha {SHOWN}", f"sector_name=Sektor {SHOWN}")
    excluded = _run("trace", "--home", home, "--round", ROUND, "--firm", hostile_home["excluded"])
    assert any(
        line.startswith("  quarantined: ") and SHOWN in line
        for line in excluded.output.splitlines()
    )


def test_map_prints_the_sector_name_escaped(hostile_home):
    result = _run("map", "--home", str(hostile_home["home"]), "--round", ROUND)
    assert result.exit_code == 0, result.output
    _assert_safe(result.output, f"Sektor {SHOWN}")


def test_lineage_prints_the_file_name_on_one_line(hostile_home):
    # ingest already shows a control character of a file name as "?"; lineage prints the
    # name as recorded, on one line
    result = _run("lineage", "--home", str(hostile_home["home"]), "--round", ROUND)
    assert result.exit_code == 0, result.output
    _assert_safe(result.output)
    (line,) = [line for line in result.output.splitlines() if line.startswith("  survey")]
    read, accepted, quarantined = map(
        int, re.search(r"(\d+) rows read = (\d+) accepted \+ (\d+) quarantined$", line).groups()
    )
    assert (read, accepted + quarantined) == (hostile_home["rows"], read)
    assert quarantined > 0
