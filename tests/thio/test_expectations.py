"""The audit gate (thio.expectations): the suites, each blocking check, warnings, drift.

The staged round is the spec's worked example computed once; each test audits a copy of its
compute database, broken in one place, so exactly one check must fail. Observed values are
the worked example's (expected.json) or follow by hand from the change made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.fixtures.compute import materialise_marts
from thio.errors import ThioError
from thio.expectations import (
    audit_markdown,
    audit_round,
    check_severities,
    load_suites,
    previous_round,
)
from thio.ingest import ingest_inputs
from thio.methodology import DEFAULT_METHODOLOGY, load_methodology
from thio.validation import validate_round
from thio.warehouse import build_compute_db

ROUND = "2023Q1"
MART_SUITES = {"firm_tcc", "firm_component", "tcc_by_group", "ahp_matrices", "program_firms"}


@pytest.fixture(scope="module")
def staged(tmp_path_factory, worked_example) -> tuple[Path, dict]:
    """The worked example's compute database and validation summary."""
    work = tmp_path_factory.mktemp("staged")
    ingest_inputs([worked_example / "csv"], ROUND, work / "home", work)
    methodology = load_methodology()
    validation = validate_round(work, ROUND, methodology)
    build_compute_db(work / "accepted", methodology, work / "compute.duckdb", ROUND)
    return work / "compute.duckdb", validation


def _audit(tmp_path, staged, sql=(), methodology=None, validation=None, **options) -> dict:
    """Audit a copy of the staged round after running ``sql`` on it."""
    source, summary = staged
    tmp_path.mkdir(parents=True, exist_ok=True)
    db_path = tmp_path / "compute.duckdb"
    shutil.copyfile(source, db_path)
    with duckdb.connect(str(db_path)) as con:
        materialise_marts(con)  # the copy's marts are its own
        for statement in sql:
            con.execute(statement)
    return audit_round(
        db_path,
        tmp_path / "home",
        ROUND,
        "run-1",
        methodology or load_methodology(),
        validation or summary,
        project_dir=tmp_path / "validation",
        **options,
    )


def _checks(audit: dict) -> dict[str, dict]:
    return {f"{row['suite']}.{row['check_name']}": row for row in audit["checks"]}


def _failed(audit: dict) -> set[str]:
    return {name for name, row in _checks(audit).items() if not row["success"]}


def _method_file(tmp_path: Path, change) -> Path:
    settings = yaml.safe_load(DEFAULT_METHODOLOGY.read_text())
    change(settings)
    path = tmp_path / "methodology.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    return path


def test_one_suite_per_published_mart_and_a_round_suite():
    suites = {suite.name: suite for suite in load_suites()}
    assert set(suites) == MART_SUITES | {"finite", "round"}
    assert suites["finite"].checks == ["numbers_finite"]
    for name in MART_SUITES:
        assert suites[name].checks[:2] == ["key_unique", "key_not_null"], name
    assert suites["round"].checks == [
        "quarantine_share",
        "inconsistent_ahp_share",
        "sector_firm_drop",
        "sector_tcc_shift",
    ]
    severities = check_severities(load_methodology())
    assert severities["round.sector_firm_drop"] == "warning"
    assert severities["round.sector_tcc_shift"] == "warning"
    assert severities["round.quarantine_share"] == "blocking"
    assert severities["firm_tcc.betas_sum_to_one"] == "blocking"
    assert severities["finite.numbers_finite"] == "blocking"


def test_the_methodology_must_mark_every_check_and_no_other(tmp_path):
    def drop(settings):
        del settings["expectations"]["severity"]["firm_tcc.key_unique"]

    with pytest.raises(ThioError, match=r"does not mark firm_tcc\.key_unique"):
        check_severities(load_methodology(_method_file(tmp_path, drop)))

    def add(settings):
        settings["expectations"]["severity"]["firm_tcc.made_up"] = "warning"

    with pytest.raises(ThioError, match=r"names no check: firm_tcc\.made_up"):
        check_severities(load_methodology(_method_file(tmp_path, add)))

    def bad(settings):
        settings["expectations"]["severity"]["round.sector_firm_drop"] = "fatal"

    with pytest.raises(ThioError, match="must be blocking or warning"):
        load_methodology(_method_file(tmp_path, bad))

    def soften(settings):
        settings["expectations"]["severity"]["finite.numbers_finite"] = "warning"

    # forcing a held round past a warning must never publish an infinite or NaN number
    with pytest.raises(ThioError, match=r"must mark finite\.numbers_finite blocking"):
        check_severities(load_methodology(_method_file(tmp_path, soften)))


def test_the_worked_example_passes_every_check(tmp_path, staged, expected):
    audit = _audit(tmp_path, staged)
    assert audit["blocked"] is False and audit["held"] is False
    assert _failed(audit) == set()
    checks = _checks(audit)
    assert len(checks) == 19
    inconsistent = [row for row in expected["ahp"] if row["cr"] > 0.10]
    observed = json.loads(checks["round.inconsistent_ahp_share"]["observed"])
    assert observed["values"] == {"round": pytest.approx(len(inconsistent) / len(expected["ahp"]))}
    assert observed["severity"] == "warning"
    assert json.loads(checks["round.quarantine_share"]["observed"])["values"] == {"round": 0.0}
    assert json.loads(checks["firm_tcc.key_unique"]["observed"])["rows"] == 3
    assert json.loads(checks["firm_component.key_unique"]["observed"])["rows"] == 12
    # Data Docs: a static site with a page per suite and per validation
    docs = Path(audit["data_docs"])
    assert docs == tmp_path / "validation" / "data_docs" / "index.html"
    index = docs.read_text()
    for suite in MART_SUITES | {"finite", "round"}:
        assert (docs.parent / "expectations" / f"{suite}.html").exists()
        assert suite in index
    assert json.loads((tmp_path / "validation" / "audit.json").read_text())["blocked"] is False
    markdown = audit_markdown(audit)
    assert "verdict: **passed**" in markdown
    assert "| round | sector_tcc_shift | warning | passed | 0 |  |" in markdown


# one change per blocking check of the marts, and what the failure must name
BROKEN = {
    "firm_tcc.key_unique": (
        ["insert into marts.firm_tcc select * from marts.firm_tcc where firm_id = 'F001'"],
        2,
        "firm_id unique: F001",
    ),
    "firm_tcc.key_not_null": (
        ["update marts.firm_tcc set firm_id = null where firm_id = 'F003'"],
        1,
        "firm_id not null",
    ),
    "firm_tcc.components_in_range": (
        # 0.05 < 1/9: T of F001 below the lowest possible contribution
        ["update marts.firm_tcc set t = 0.05 where firm_id = 'F001'"],
        1,
        "component_min >= 0.111111111111: F001 (component_min 0.05)",
    ),
    "firm_tcc.betas_sum_to_one": (
        # F002's betas sum to 1; 0.01 more on beta_t makes 1.01
        ["update marts.firm_tcc set beta_t = beta_t + 0.01 where firm_id = 'F002'"],
        1,
        "beta_sum >= 0.999999999 and <= 1.000000001: F002 (beta_sum 1.01)",
    ),
    "firm_tcc.tcc_within_components": (
        # F003's components lie in [0.261111, 0.455556]
        ["update marts.firm_tcc set tcc = 0.9 where firm_id = 'F003'"],
        1,
        "component_max >= tcc: F003",
    ),
    "firm_component.key_unique": (
        [
            "insert into marts.firm_component select * from marts.firm_component "
            "where firm_id = 'F002' and component = 'H'"
        ],
        2,
        "(firm_id, component) unique: F002 H",
    ),
    "firm_component.key_not_null": (
        [
            "update marts.firm_component set component = null "
            "where firm_id = 'F001' and component = 'O'"
        ],
        1,
        "component not null",
    ),
    "firm_component.contributions_within_limits": (
        # 0.01 is below 1/9 and below F001's T items' ll_min / 9
        [
            "update marts.firm_component set contribution = 0.01 "
            "where firm_id = 'F001' and component = 'T'"
        ],
        2,
        "contribution_rounded >= 0.111111111111 and <= 1: F001 T (contribution_rounded 0.01)",
    ),
    "tcc_by_group.key_unique": (
        [
            "insert into marts.tcc_by_group select * from marts.tcc_by_group "
            "where group_type = 'all'"
        ],
        2,
        "(group_type, group_code) unique: all all",
    ),
    "tcc_by_group.key_not_null": (
        ["update marts.tcc_by_group set group_code = null where group_code = '1671'"],
        1,
        "group_code not null",
    ),
    "ahp_matrices.key_unique": (
        [
            "insert into marts.ahp_matrices select * from marts.ahp_matrices "
            "where scope_id = 'F002' and respondent = 'R2'"
        ],
        2,
        "(scope_type, scope_id, matrix_kind, respondent) unique: firm F002 respondent R2",
    ),
    "ahp_matrices.key_not_null": (
        ["update marts.ahp_matrices set respondent = null where respondent = 'R2'"],
        1,
        "respondent_given in [True]",
    ),
    "program_firms.key_unique": (
        [
            "insert into marts.program_firms (round_id, program_id, firm_id) "
            "values ('2023Q1', 'PGM-1', 'F001'), ('2023Q1', 'PGM-1', 'F001')"
        ],
        2,
        "(program_id, firm_id) unique: PGM-1 F001",
    ),
    "finite.numbers_finite": (
        # the 1e308 sample weights of issue 12: inf weight_sum, and inf / inf shares
        [
            "update marts.tcc_by_group set weight_sum = 'inf'::double, "
            "share_fair = 'nan'::double where group_type = 'all'",
            "update marts.tcc_by_group set share_fair = 'nan'::double where group_code = '6474'",
        ],
        2,
        "2 of 63 rows failed non_finite_values <= 0: "
        "tcc_by_group weight_sum (non_finite_values 1, example all), "
        "tcc_by_group share_fair (non_finite_values 2, example all)",
    ),
    "program_firms.key_not_null": (
        [
            "insert into marts.program_firms (round_id, program_id, firm_id) "
            "values ('2023Q1', null, 'F001')"
        ],
        1,
        "program_id not null",
    ),
}


def test_every_blocking_check_is_broken_by_a_case():
    severities = check_severities(load_methodology())
    blocking = {name for name, severity in severities.items() if severity == "blocking"}
    assert blocking == set(BROKEN) | {"round.quarantine_share"}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_mart_is_blocked_by_its_check(tmp_path, staged, name):
    sql, count, named = BROKEN[name]
    audit = _audit(tmp_path, staged, sql, data_docs=False)
    assert _failed(audit) == {name}
    row = _checks(audit)[name]
    assert row["unexpected_count"] == count
    assert named in row["message"]
    assert audit["blocked"] is True and audit["held"] is False
    assert audit["blocked_reason"].startswith(f"blocking expectation failed: {name}: ")
    assert json.loads(row["observed"])["severity"] == "blocking"


def test_the_quarantine_share_blocks_above_the_threshold(tmp_path, staged):
    # validation measured 1 of 3 firm ids with a problem (its share; the rule is the audit's)
    _, summary = staged
    validation = {**summary, "quarantine_share": 1 / 3, "n_firms_with_problems": 1}
    # forcing warnings is no way around a blocking check
    audit = _audit(tmp_path, staged, validation=validation, force_warnings=True, data_docs=False)
    assert _failed(audit) == {"round.quarantine_share"}
    assert (audit["blocked"], audit["held"]) == (True, False)
    message = _checks(audit)["round.quarantine_share"]["message"]
    assert message == (
        "1 of 3 rows failed quarantine_share <= 0.05: round (quarantine_share 0.333333333333, "
        "firms_with_problems 1, firm_ids_read 3, ahp_respondents 5)"
    )
    assert json.loads(_checks(audit)["round.quarantine_share"]["observed"])["values"] == {
        "round": pytest.approx(1 / 3)
    }


def test_a_warning_holds_the_round_unless_forced(tmp_path, staged):
    # 1 of the 5 respondents has CR > 0.10 (0.2): over a bound of 0.1
    def tighter(settings):
        settings["expectations"]["bounds"]["max_inconsistent_ahp_share"] = 0.1

    methodology = load_methodology(_method_file(tmp_path, tighter))
    held = _audit(tmp_path / "held", staged, methodology=methodology, data_docs=False)
    assert _failed(held) == {"round.inconsistent_ahp_share"}
    assert (held["blocked"], held["held"]) == (True, True)
    assert held["failed_blocking"] == []
    assert held["failed_warnings"] == [
        "round.inconsistent_ahp_share: 1 of 3 rows failed inconsistent_ahp_share <= 0.1: "
        "round (inconsistent_ahp_share 0.2, firms_with_problems 0, firm_ids_read 3, "
        "ahp_respondents 5)"
    ]
    assert "--force-warnings" in held["blocked_reason"]
    forced = _audit(
        tmp_path / "forced", staged, methodology=methodology, force_warnings=True, data_docs=False
    )
    assert (forced["blocked"], forced["held"]) == (False, False)
    assert forced["failed_warnings"] == held["failed_warnings"]
    assert "passed with warnings (forced)" in audit_markdown(forced)


def test_sectors_are_compared_with_the_previous_published_round(tmp_path, staged):
    source, _ = staged
    home = tmp_path / "home"
    home.mkdir()
    # a warehouse whose 2022Q4 (version 1) has the worked example's sectors: 10 with 2 firms
    # and TCC mean 0.341549, 31 with 1 firm; a later round 2023Q2 is not "previous"
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("attach ? as staged (read_only)", [str(source)])
        con.execute("create schema meta")
        con.execute("create schema marts")
        con.execute(
            "create table meta.publications as select * from (values "
            "('2022Q4', 1, 'published'), ('2023Q2', 1, 'published'), ('2022Q3', 1, 'published'))"
            " as p(round_id, version, status)"
        )
        con.execute(
            "create table marts.tcc_by_group as select '2022Q4' as round_id, 1 as version, * "
            "exclude (round_id) from staged.marts.tcc_by_group"
        )
    assert previous_round(home, ROUND) == ("2022Q4", 1)
    # this round: sector 31 is gone, sector 10's mean TCC is 0.2 higher
    sql = [
        "delete from marts.tcc_by_group where group_type = 'sector' and group_code = '31'",
        "update marts.tcc_by_group set tcc_mean = tcc_mean + 0.2 "
        "where group_type = 'sector' and group_code = '10'",
    ]
    audit = _audit(tmp_path, staged, sql, data_docs=False)
    assert (audit["previous_round"], audit["previous_version"]) == ("2022Q4", 1)
    assert _failed(audit) == {"round.sector_firm_drop", "round.sector_tcc_shift"}
    checks = _checks(audit)
    drop = json.loads(checks["round.sector_firm_drop"]["observed"])["values"]
    assert drop == {"sector 10": 0.0, "sector 31": 1.0}
    shift = json.loads(checks["round.sector_tcc_shift"]["observed"])["values"]
    assert shift["sector 10"] == pytest.approx(0.2, abs=1e-12)
    assert checks["round.sector_firm_drop"]["message"] == (
        "1 of 3 rows failed firm_drop_share <= 0.25: sector 31 (firm_drop_share 1, n_firms 0, "
        "n_firms_previous 1, tcc_mean_previous 0.341547780741)"
    )
    assert audit["held"] is True


def test_a_contribution_of_exactly_one_ninth_passes(tmp_path, staged):
    # every item of F001's infoware at ll = ul = 1: c = (1 + sota * 0) / 9 = 1/9 exactly,
    # the smallest contribution the method allows (the bound is compared rounded, as the
    # contributions are)
    ninth = 1 / 9
    sql = [
        f"update marts.firm_component set contribution = {ninth!r}, ll_min = 1, ul_max = 1 "
        "where firm_id = 'F001' and component = 'I'",
        f"update marts.firm_tcc set i = {ninth!r} where firm_id = 'F001'",
    ]
    audit = _audit(tmp_path, staged, sql, data_docs=False)
    assert _failed(audit) == set()
    assert audit["blocked"] is False
