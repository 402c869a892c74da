"""Audit benchmark: the expectation suites under Great Expectations against the same rules as
plain DuckDB SQL queries, on one staged round, in one run.

    .venv/bin/python bench/expectations_bench.py [--firms 100000] [--repeat 3] [--out DIR]

It generates a round (thio.sample through bench/generate.py, CSV), takes it through ingest,
validation and compute (untimed) to the compute database the audit reads, then times, best of
``--repeat``:

  * sql: every expectation of schemas/expectations/ as one DuckDB query over its suite's
    frame query (the count of failing rows and up to five failing keys, as GX reports them),
    on a connection set up as the audit's (compute database attached read-only, the round
    suite's relations);
  * gx: what the audit step does for the same rules -- the frames read from the compute
    database into pandas (thio.expectations.staged_frames) and every suite validated by GX in
    a file context (thio.expectations.run_suites, results stored) -- and, apart, the Data
    Docs build.

GX is imported once before the timings (its import, seconds, is paid once per run and is
printed on its own). The ratio gx / sql is what docs/BENCHMARKS.md records; nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.generate import make_bench_inputs  # noqa: E402
from thio.expectations import (  # noqa: E402
    check_severities,
    expectation_parameters,
    frames_ahead,
    import_gx,
    load_suites,
    run_suites,
    stage_relations,
    staged_frames,
)
from thio.ingest import ingest_inputs  # noqa: E402
from thio.methodology import load_methodology  # noqa: E402
from thio.validation import validate_round  # noqa: E402
from thio.warehouse import build_compute_db  # noqa: E402

ROUND = "2025Q1"
EXAMPLES = 5


def _value(value, parameters: dict[str, float]):
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _violation(kind: str, kwargs: dict, parameters: dict[str, float]) -> tuple[str, list]:
    """The WHERE condition of a frame's failing rows for one expectation (names are the
    suites' own column names; values go in as parameters); GX's semantics: null values are
    not judged by range and pair rules."""
    kwargs = {key: _value(value, parameters) for key, value in kwargs.items()}
    if kind == "expect_column_values_to_not_be_null":
        return f"{kwargs['column']} is null", []
    if kind == "expect_column_values_to_be_unique":
        column = kwargs["column"]
        return (
            f"{column} is not null and {column} in "
            f"(select {column} from frame group by {column} having count(*) > 1)"
        ), []
    if kind == "expect_compound_columns_to_be_unique":
        columns = ", ".join(kwargs["column_list"])
        return (
            f"({columns}) in (select ({columns}) from frame group by {columns} having count(*) > 1)"
        ), []
    if kind == "expect_column_values_to_be_in_set":
        marks = ", ".join("?" for _ in kwargs["value_set"])
        return f"{kwargs['column']} not in ({marks})", list(kwargs["value_set"])
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        sign = "<" if kwargs.get("or_equal") else "<="
        return f"{kwargs['column_A']} {sign} {kwargs['column_B']}", []
    if kind == "expect_column_values_to_be_between":
        parts, values = [], []
        if kwargs.get("min_value") is not None:
            parts.append(f"{kwargs['column']} {'<=' if kwargs.get('strict_min') else '<'} ?")
            values.append(kwargs["min_value"])
        if kwargs.get("max_value") is not None:
            parts.append(f"{kwargs['column']} {'>=' if kwargs.get('strict_max') else '>'} ?")
            values.append(kwargs["max_value"])
        return " or ".join(parts), values
    raise ValueError(f"no SQL for {kind}")


def sql_rules(con, suites, parameters) -> dict[str, int]:
    """Every expectation as a DuckDB query: failing rows and up to five failing keys."""
    failing = {}
    for suite in suites:
        con.execute(f"create or replace temp view frame as {suite.frame}")
        keys = ", ".join(suite.key)
        for number, expectation in enumerate(suite.expectations):
            condition, values = _violation(expectation.type, expectation.kwargs, parameters)
            count, examples = con.execute(
                f"with bad as (select {keys} from frame where {condition}) "
                f"select (select count(*) from bad), "
                f"(select list(({keys})) from (select * from bad limit {EXAMPLES}))",
                values,
            ).fetchone()
            failing[f"{suite.name}.{number}.{expectation.check}"] = int(count)
            del examples
    return failing


def _stage(out_dir: Path, firms: int) -> tuple[Path, dict]:
    inputs = make_bench_inputs(out_dir / "inputs", firms, "csv", round_id=ROUND)
    work = out_dir / "work"
    methodology = load_methodology()
    ingest_inputs(list(inputs), ROUND, out_dir / "home", work)
    validation = validate_round(work, ROUND, methodology)
    build_compute_db(work / "accepted", methodology, work / "compute.duckdb", ROUND)
    return work / "compute.duckdb", validation


def main(argv: list[str] | None = None) -> None:
    """Generate and stage a round, then time the suites as SQL and under GX."""
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="Working folder (default: a temporary one).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thio-expectations-bench-") as scratch:
        out_dir = args.out or Path(scratch)
        mark = time.perf_counter()
        compute_db, validation = _stage(out_dir, args.firms)
        staged = time.perf_counter() - mark
        methodology = load_methodology()
        suites = load_suites()
        severities = check_severities(methodology, suites)
        parameters = expectation_parameters(methodology)
        home = out_dir / "home"
        with duckdb.connect(str(compute_db), read_only=True) as con:
            rows = {
                name: con.execute(f"select count(*) from marts.{name}").fetchone()[0]
                for name in ("firm_tcc", "firm_component", "ahp_matrices", "tcc_by_group")
            }
            rows["sota"] = con.execute("select count(*) from landing.sota").fetchone()[0]

        mark = time.perf_counter()
        import_gx()
        gx_import = time.perf_counter() - mark
        staged_frames(compute_db, home, ROUND, validation, suites, parameters)  # warm-up

        def sql() -> tuple[float, dict]:
            mark = time.perf_counter()
            with duckdb.connect() as con:
                # the audit's own relations (no previous round here)
                stage_relations(con, compute_db, home, None, validation, parameters)
                failing = sql_rules(con, suites, parameters)
            return time.perf_counter() - mark, failing

        def gx(number: int) -> tuple[float, float, dict]:
            seconds: dict[str, float] = {}
            mark = time.perf_counter()
            # as the audit step: the frames read by a second thread while GX validates
            frames, _ = frames_ahead(compute_db, home, ROUND, validation, suites, parameters)
            results = run_suites(
                out_dir / f"gx-{number}",
                suites,
                frames,
                severities,
                parameters,
                ROUND,
                f"bench-{number}",
                seconds,
                data_docs=True,
            )
            total = time.perf_counter() - mark
            failing = {
                f"{suite.name}.{index}.{expectation.check}": int(
                    (result.result or {}).get("unexpected_count") or 0
                )
                for suite in suites
                for index, (expectation, result) in enumerate(results[suite.name])
            }
            # frames and validation, then the Data Docs built at the end, timed apart
            return total - seconds["data_docs"], seconds["data_docs"], failing

        sql_times, gx_times, docs_times = [], [], []
        for number in range(args.repeat):
            seconds, sql_failing = sql()
            sql_times.append(seconds)
            validation_seconds, docs_seconds, gx_failing = gx(number)
            gx_times.append(validation_seconds)
            docs_times.append(docs_seconds)
            if sql_failing != gx_failing:
                raise SystemExit(f"SQL and GX disagree: {sql_failing} != {gx_failing}")
        report = {
            "firms": args.firms,
            "rows": rows,
            "expectations": sum(len(suite.expectations) for suite in suites),
            "staging_seconds": round(staged, 1),
            "gx_import_seconds": round(gx_import, 2),
            "sql_seconds": round(min(sql_times), 3),
            "gx_seconds": round(min(gx_times), 3),
            "data_docs_seconds": round(min(docs_times), 3),
            "ratio_gx_to_sql": round(min(gx_times) / min(sql_times), 2),
        }
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
