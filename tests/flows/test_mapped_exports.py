"""End to end: survey-tool exports of the same 20 firms publish the canonical round's values.

The canonical workbook of the round (thio.sample, written as the input contract) goes
through the survey-round flow; each export of the same submissions (KoboToolbox with XML
values and with label headers, ODK Central's zip, SurveyCTO's wide CSV -- each with an
extra rejected interview that must be left out) goes through ``thio run --mapping``. Every
run must publish the same ``marts.firm_tcc`` rows as the canonical one (labels equal, numbers
within 1e-12: the order of a parallel sum may change the last bit between any two runs).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from flows.survey_round import survey_round
from schemas.forms.build_form import MAPPINGS_DIR
from tests.fixtures.exports.generate import write_all
from thio.audit import verify_publication
from thio.cli import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROUND = "2024Q1"
COLUMNS = (
    "firm_id, sector_code, region_code, t, h, i, o, beta_t, beta_h, beta_i, beta_o, "
    "beta_source, ahp_cr, tcc, tcc_class, technology_level, priority"
)


def _firm_tcc(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            f"select {COLUMNS} from marts.firm_tcc where round_id = ? order by firm_id", [ROUND]
        ).fetchall()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("exports"), 20, rejected=1)


@pytest.fixture(scope="module")
def canonical_tcc(exports, tmp_path_factory) -> list[tuple]:
    home = tmp_path_factory.mktemp("canonical")
    report = survey_round(round_id=ROUND, inputs=[str(exports["canonical"])], home=str(home))
    assert report["publication"]["status"] == "published"
    rows = _firm_tcc(home)
    assert len(rows) == 20
    # the round exercises every source of intensities a firm's interview can give
    assert {row[COLUMNS.split(", ").index("beta_source")] for row in rows} == {
        "firm_ahp",
        "firm_weights",
        "default",
    }
    return rows


@pytest.mark.parametrize("name", ["kobo_xml", "kobo_labels", "odk_central", "surveycto"])
def test_an_export_publishes_the_canonical_firm_tcc(tmp_path, exports, canonical_tcc, name):
    mapping = MAPPINGS_DIR / f"{name}.yaml"
    export = exports[name]
    result = CliRunner().invoke(
        cli,
        ["run", "--home", str(tmp_path), "--round", ROUND, "--mapping", str(mapping), str(export)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    # 20 firms + 108 items + 958 SOTA + 54 AHP + 4 weights rows; the rejected interview is out
    assert lines[0] == f"{export.name}: 1144 rows read, 1144 accepted, 0 quarantined"
    assert lines[-1] == f"round {ROUND}: version 1, 20 firms, published"
    got = _firm_tcc(tmp_path)
    assert [row[0] for row in got] == [row[0] for row in canonical_tcc]
    for mine, theirs in zip(got, canonical_tcc, strict=True):
        for column, a, b in zip(COLUMNS.split(", "), mine, theirs, strict=True):
            if isinstance(b, float):
                # DuckDB's parallel sums may differ in the last bit between any two runs
                assert a == pytest.approx(b, abs=1e-12), (mine[0], column)
            else:
                assert a == b, (mine[0], column)
    # an auditor recomputes the mapped round from the archived export and mapping file
    ok, verified = verify_publication(tmp_path, ROUND)
    assert ok, verified
