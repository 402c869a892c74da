"""The audit gate: Great Expectations suites on the staged round (write-audit-publish).

The compute step leaves the round's marts in ``<work>/compute.duckdb``, the staging area;
nothing is published yet. :func:`audit_round` audits them, and the publish step publishes
only a round the audit did not block:

* the suites of ``schemas/expectations/*.yaml`` are data: one per published mart plus
  ``round``; each names the frame it runs on (a query of the compute database) and its
  expectations, each tagged with a check name. ``methodology.yaml`` (``expectations``) marks
  every check ``<suite>.<check>`` blocking or warning and sets the bounds of the round suite;
* the frames are read from the compute database read-only (as Arrow, then pandas), with the
  sectors of the previous published round read from ``<home>/warehouse.duckdb`` read-only;
* Great Expectations 1.x validates each frame with its suite in a file context under
  ``<home>/reports/<round>/run-<run_id>/validation/`` (renamed ``v<version>`` when the run
  publishes a version) and builds its Data Docs there, a static HTML site
  (``data_docs/index.html``);
* the verdict: blocked when a blocking check failed, and held (blocked too) when a warning
  check failed and the run was not forced (``force_warnings``); forcing never gets around a
  blocking check.

Great Expectations is imported inside :func:`audit_round` only: the import costs seconds and
is paid once per run, never per check or for a run that does not reach the audit.

Where each rule lives (each in one place): rules on input rows and sheets are validation's
(pandera, ``thio.validation``); the quarantine share is measured by validation and judged
here (``round.quarantine_share``); the marts' keys, ranges and sums are here;
``warehouse/checks/*.sql`` keep the rules no suite has (every firm scored and classified, the
group shares, the AHP matrices' betas and eigenvalues), recorded but not blocking.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

import schemas
from thio.catalog import MART_TABLES
from thio.errors import ThioError
from thio.methodology import Methodology
from thio.report import markdown_cell
from thio.yamlfile import load_yaml

SUITES_DIR = Path(schemas.__file__).resolve().parent / "expectations"
ROUND_SUITE = "round"
# method.md section 5: the betas sum to 1; 1e-9 is far above the rounding of four additions
# and far below any real error
BETA_SUM_TOLERANCE = 1e-9
# failing rows named in a message and in meta.validation_results.observed
EXAMPLES = 5
DATA_DOCS_SITE = "audit"
OFFLINE_SCRIPT = "data_docs_offline.js"
_JQUERY_TAG = re.compile(r'(<script src="https://code\.jquery\.com/jquery-[^"]*"[^>]*></script>)')
_REMOTE_LOGO = re.compile(r"https://great-expectations-web-assets\.[^\"']*/logo-long\.png[^\"']*")
GX_CONFIG = "great_expectations.yml"
_GX_SEVERITY = {"blocking": "critical", "warning": "warning"}
# published column types that can hold inf or NaN
FLOATING_TYPES = ("double", "float", "real")
# checks no methodology file may turn into warnings: forcing a held round must never publish
# an infinite or NaN number
ALWAYS_BLOCKING = ("finite.numbers_finite",)
# the catalog key columns a compute mart lacks (the publish step adds them)
_PUBLISH_KEYS = ("round_id", "version")


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite: its check name, GX type and arguments (``$PARAMETER``
    references are filled from :func:`expectation_parameters` at run time)."""

    check: str
    type: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Suite:
    """A suite of schemas/expectations/: the frame it runs on and its expectations."""

    name: str
    description: str
    key: tuple[str, ...]
    frame: str
    expectations: tuple[Expectation, ...]
    show: tuple[str, ...] = ()  # columns shown beside the key of a failed row

    @property
    def checks(self) -> list[str]:
        """Check names in file order, each once."""
        return list(dict.fromkeys(expectation.check for expectation in self.expectations))


def non_finite_frame() -> str:
    """The query of one row per floating-point column of every per-round mart of the catalog
    (``mart``, ``column_name``): how many of its values are infinite or NaN
    (``non_finite_values``; null is not counted) and the key of one of those rows
    (``example``). Generated, so that a column added to the catalog is checked too.

    Each mart is scanned once for the rows with any such value; the counts are taken over
    those rows only (none, for a sound round)."""
    ctes, selects = [], []
    for table in MART_TABLES:
        numbers = [name for name, kind, _ in table.columns if kind in FLOATING_TYPES]
        if not numbers:
            continue
        key = [name for name in table.key if name not in _PUBLISH_KEYS]
        # names are the catalog's own identifiers, never input
        finite_all = " and ".join(f'coalesce(isfinite("{name}"), true)' for name in numbers)
        ctes.append(
            f"non_finite__{table.name} as (\n"
            f"    select * from marts.{table.name} where not ({finite_all})\n)"
        )
        example = "concat_ws(' ', " + ", ".join(f'"{name}"' for name in key) + ")"
        for name in numbers:
            bad = f'not isfinite("{name}")'
            selects.append(
                f"select '{table.name}' as mart, '{name}' as column_name, "
                f"count(*) filter (where {bad}) as non_finite_values, "
                f"min({example}) filter (where {bad}) as example "
                f"from non_finite__{table.name}"
            )
    return "with\n" + ",\n".join(ctes) + "\n" + "\nunion all\n".join(selects) + "\n"


# frames a suite names as ``frame: {generated: <name>}`` instead of a query
GENERATED_FRAMES = {"non_finite_values": non_finite_frame}


def load_suites(directory: Path = SUITES_DIR) -> list[Suite]:
    """Every suite of ``directory`` (``*.yaml``), by name, the round suite last."""
    suites = []
    for path in sorted(Path(directory).glob("*.yaml")):  # the GX config is *.yml
        data = load_yaml(path.read_text(encoding="utf-8"))
        try:
            frame = data["frame"]
            if isinstance(frame, dict):
                if frame.get("generated") not in GENERATED_FRAMES:
                    raise ThioError(
                        f"expectation suite {path.name}: frame.generated must be one of "
                        + ", ".join(GENERATED_FRAMES)
                    )
                frame = GENERATED_FRAMES[frame["generated"]]()
            suites.append(
                Suite(
                    name=data["name"],
                    description=data.get("description", ""),
                    key=tuple(data["key"]),
                    show=tuple(data.get("show") or ()),
                    frame=frame,
                    expectations=tuple(
                        Expectation(item["check"], item["type"], dict(item.get("kwargs") or {}))
                        for item in data["expectations"]
                    ),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ThioError(f"expectation suite {path.name}: missing {exc}") from None
    return sorted(suites, key=lambda suite: (suite.name == ROUND_SUITE, suite.name))


def check_severities(methodology: Methodology, suites: list[Suite] | None = None) -> dict[str, str]:
    """blocking or warning per check ``<suite>.<check>``: the methodology file's
    ``expectations.severity``, which must name every check of the suites and no other (a file
    without it makes every check blocking)."""
    suites = load_suites() if suites is None else suites
    names = [f"{suite.name}.{check}" for suite in suites for check in suite.checks]
    given = methodology.expectation_severity
    if not given:
        return dict.fromkeys(names, "blocking")
    unknown = sorted(set(given) - set(names))
    missing = [name for name in names if name not in given]
    where = f"methodology file {methodology.path.name}"
    if unknown:
        raise ThioError(f"{where}: expectations.severity names no check: {', '.join(unknown)}")
    if missing:
        raise ThioError(f"{where}: expectations.severity does not mark {', '.join(missing)}")
    softened = [name for name in ALWAYS_BLOCKING if given.get(name, "blocking") != "blocking"]
    if softened:
        raise ThioError(f"{where}: expectations.severity must mark {softened[0]} blocking")
    return {name: given[name] for name in names}


def expectation_parameters(methodology: Methodology) -> dict[str, float]:
    """The values of the suites' ``$PARAMETER`` references, from the methodology."""
    bounds = methodology.expectation_bounds
    return {
        # rounded as the frames round the contributions they are compared with: a
        # contribution of exactly 1/9 must not fail on its twelfth decimal
        "contribution_min": round(
            methodology.limit_min / methodology.limit_max,
            int(methodology.settings["classification_decimals"]),
        ),
        "contribution_max": 1.0,
        "beta_sum_min": 1.0 - BETA_SUM_TOLERANCE,
        "beta_sum_max": 1.0 + BETA_SUM_TOLERANCE,
        "quarantine_threshold": methodology.quarantine_threshold,
        "ahp_cr_level": bounds["ahp_cr_level"],
        "max_inconsistent_ahp_share": bounds["max_inconsistent_ahp_share"],
        "max_sector_firm_drop": bounds["max_sector_firm_drop"],
        "sector_tcc_shift_min": -bounds["max_sector_tcc_shift"],
        "sector_tcc_shift_max": bounds["max_sector_tcc_shift"],
    }


def previous_round(home: Path, round_id: str) -> tuple[str, int] | None:
    """(round_id, current version) of the published round before ``round_id``: the greatest
    round id below it of the same form (YYYYQn or YYYY) with a published version; None when
    there is none. Reads ``<home>/warehouse.duckdb`` read-only."""
    from thio.publish import warehouse_path

    path = warehouse_path(Path(home))
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "select round_id, max(version) from meta.publications "
            "where status = 'published' and round_id < ? and length(round_id) = length(?) "
            "group by round_id order by round_id desc limit 1",
            [round_id, round_id],
        ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


def staged_frames(
    compute_db: Path,
    home: Path,
    round_id: str,
    validation: dict[str, Any],
    suites: list[Suite],
    parameters: dict[str, float],
) -> tuple[dict[str, Any], tuple[str, int] | None]:
    """Each suite's pandas frame, by suite name, and the previous round compared with."""
    frames, previous = frames_ahead(compute_db, home, round_id, validation, suites, parameters)
    return {name: future.result() for name, future in frames.items()}, previous


def frames_ahead(
    compute_db: Path,
    home: Path,
    round_id: str,
    validation: dict[str, Any],
    suites: list[Suite],
    parameters: dict[str, float],
) -> tuple[dict[str, Future], tuple[str, int] | None]:
    """Each suite's frame as a future, read in suite order by a second thread, and the
    previous round compared with: the caller validates a frame while the next is read
    (DuckDB and Arrow work outside the GIL, GX inside it).

    The compute database is attached read-only to an in-memory database holding the round
    suite's relations (``round_facts``, ``previous_sectors``, ``audit_parameters``; see
    round.yaml).
    """
    previous = previous_round(home, round_id)
    futures: dict[str, Future] = {suite.name: Future() for suite in suites}

    def read() -> None:
        try:
            with duckdb.connect() as con:
                stage_relations(con, compute_db, home, previous, validation, parameters)
                for suite in suites:
                    frame = con.sql(suite.frame).to_arrow_table().to_pandas()
                    futures[suite.name].set_result(frame)
        except BaseException as exc:  # the reader's error is the caller's
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)

    threading.Thread(target=read, name="thio-audit-frames", daemon=True).start()
    return futures, previous


def stage_relations(
    con: duckdb.DuckDBPyConnection,
    compute_db: Path,
    home: Path,
    previous: tuple[str, int] | None,
    validation: dict[str, Any],
    parameters: dict[str, float],
) -> None:
    """Make ``con`` (an in-memory database) the place the suites' frame queries run: the
    compute database attached read-only and used, and the round suite's relations
    (``audit_parameters``, ``round_facts`` from ``validation``, ``previous_sectors`` of
    the ``previous`` published round, empty when None; see round.yaml)."""
    facts = [
        float(validation["quarantine_share"]),
        int(validation["n_firms_with_problems"]),
        int(validation["n_firms_read"]) + int(validation["n_unknown_firm_ids"]),
    ]
    con.execute("attach ? as compute (read_only)", [str(compute_db)])
    # names are our own parameter names; the values go in as parameters
    con.execute(
        "create temp table audit_parameters as select "
        + ", ".join(f"cast(? as double) as {name}" for name in parameters),
        list(parameters.values()),
    )
    con.execute(
        "create temp table round_facts as select cast(? as double) as quarantine_share, "
        "cast(? as bigint) as firms_with_problems, cast(? as bigint) as firm_ids_read",
        facts,
    )
    con.execute(
        "create temp table previous_sectors (sector_code varchar, n_firms bigint, tcc_mean double)"
    )
    if previous is not None:
        from thio.publish import warehouse_path

        con.execute("attach ? as published (read_only)", [str(warehouse_path(Path(home)))])
        con.execute(
            "insert into previous_sectors select sector_code, n_firms, tcc_mean "
            "from published.marts.tcc_by_group "
            "where round_id = ? and version = ? and group_type = 'sector'",
            list(previous),
        )
        con.execute("detach published")
    con.execute("use compute")


def audit_round(
    compute_db: Path,
    home: Path,
    round_id: str,
    run_id: str,
    methodology: Methodology,
    validation: dict[str, Any],
    force_warnings: bool = False,
    project_dir: Path | None = None,
    data_docs: bool = True,
) -> dict[str, Any]:
    """Run every suite on the staged round and decide whether it may be published.

    ``validation`` is the validation summary (its ``quarantine_share`` is judged here).
    The GX file context and its Data Docs go to ``project_dir`` (default
    ``<home>/reports/<round>/run-<run_id>/validation``); ``data_docs`` False leaves the site
    out (the results are stored either way). Returns (and writes as
    ``audit.json`` in ``project_dir``)::

        {"round_id", "run_id", "previous_round": "2024Q1" | None, "previous_version",
         "checks": [{"suite", "check_name", "severity", "success", "unexpected_count",
                     "observed", "message"}],           # one per check, meta.validation_results
         "failed_blocking": [...], "failed_warnings": [...],   # "<suite>.<check>: what failed"
         "force_warnings": bool, "blocked": bool, "held": bool, "blocked_reason": str | None,
         "project_dir", "data_docs": "<project_dir>/data_docs/index.html",
         "seconds": {"import", "validate", "frames_and_validate", "data_docs"}}

    ``held`` is true when only warning checks failed and the run was not forced.
    """
    suites = load_suites()
    severities = check_severities(methodology, suites)
    parameters = expectation_parameters(methodology)
    home = Path(home)
    if project_dir is None:
        project_dir = home / "reports" / round_id / f"run-{run_id}" / "validation"
    project_dir = Path(project_dir)
    if project_dir.exists():
        shutil.rmtree(project_dir)
    project_dir.mkdir(parents=True)
    seconds: dict[str, float] = {}
    mark = time.perf_counter()
    # the frames are read while GX starts and validates the ones before
    ahead, previous = frames_ahead(Path(compute_db), home, round_id, validation, suites, parameters)
    results = run_suites(
        project_dir, suites, ahead, severities, parameters, round_id, run_id, seconds, data_docs
    )
    frames = {name: future.result() for name, future in ahead.items()}
    # the Data Docs, built at the end, are timed apart
    seconds["frames_and_validate"] = time.perf_counter() - mark - seconds.get("data_docs", 0.0)
    checks = []
    for suite in suites:
        for check in suite.checks:
            severity = severities[f"{suite.name}.{check}"]
            pairs = [(e, r) for e, r in results[suite.name] if e.check == check]
            checks.append(_check_row(suite, check, severity, pairs, frames[suite.name], parameters))
    failed_blocking = [
        f"{row['suite']}.{row['check_name']}: {row['message']}"
        for row in checks
        if not row["success"] and row["severity"] == "blocking"
    ]
    failed_warnings = [
        f"{row['suite']}.{row['check_name']}: {row['message']}"
        for row in checks
        if not row["success"] and row["severity"] == "warning"
    ]
    held = not failed_blocking and bool(failed_warnings) and not force_warnings
    blocked_reason = None
    if failed_blocking:
        blocked_reason = "blocking expectation failed: " + "; ".join(failed_blocking)
    elif held:
        blocked_reason = (
            "warning expectation failed: " + "; ".join(failed_warnings)
            + " (thio run --force-warnings publishes despite warnings)"
        )  # fmt: skip
    audit = {
        "round_id": round_id,
        "run_id": run_id,
        "previous_round": previous[0] if previous else None,
        "previous_version": previous[1] if previous else None,
        "checks": checks,
        "failed_blocking": failed_blocking,
        "failed_warnings": failed_warnings,
        "force_warnings": bool(force_warnings),
        "blocked": bool(failed_blocking) or held,
        "held": held,
        "blocked_reason": blocked_reason,
        "project_dir": str(project_dir),
        "data_docs": str(project_dir / "data_docs" / "index.html"),
        "seconds": seconds,
    }
    (project_dir / "audit.json").write_text(json.dumps(audit, indent=1, ensure_ascii=False))
    return audit


def import_gx() -> Any:
    """Great Expectations, imported once per process (the import takes seconds), with its
    usage statistics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def run_suites(
    project_dir: Path,
    suites: list[Suite],
    frames: dict[str, Any],
    severities: dict[str, str],
    parameters: dict[str, float],
    round_id: str,
    run_id: str,
    seconds: dict[str, float] | None = None,
    data_docs: bool = True,
) -> dict[str, list[tuple[Expectation, Any]]]:
    """Validate each frame (or future frame) with its suite in a GX file context at
    ``project_dir`` and build the Data Docs (``project_dir/data_docs``); each suite's
    (expectation, GX result) pairs. ``seconds`` gets import, validate and data_docs."""
    seconds = {} if seconds is None else seconds
    mark = time.perf_counter()
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    seconds["import"] = time.perf_counter() - mark
    mark = time.perf_counter()
    # the project's config is shipped (schemas/expectations/great_expectations.yml): no
    # progress bars or usage statistics, the Data Docs site at <project_dir>/data_docs, and
    # one dataframe asset whose batch is each suite's frame in turn
    # a fresh project: the suites, definitions and results of this run only
    shutil.rmtree(project_dir / "gx", ignore_errors=True)
    (project_dir / "gx").mkdir(parents=True)
    shutil.copyfile(SUITES_DIR / "great_expectations.yml", project_dir / "gx" / GX_CONFIG)
    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    batch = (
        context.data_sources.get("staged_round").get_asset("marts").get_batch_definition("round")
    )
    gx_run = RunIdentifier(run_name=str(run_id))
    results: dict[str, list[tuple[Expectation, Any]]] = {}
    for suite in suites:
        gx_suite = gx.ExpectationSuite(
            name=suite.name,
            expectations=[
                ExpectationConfiguration(
                    type=expectation.type,
                    kwargs=expectation.kwargs,
                    meta={"check": expectation.check, "severity": severity, "index": index},
                    severity=_GX_SEVERITY[severity],
                ).to_domain_obj()
                for index, expectation in enumerate(suite.expectations)
                for severity in [severities[f"{suite.name}.{expectation.check}"]]
            ],
            meta={"description": suite.description},
        )
        gx_suite = context.suites.add(gx_suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        # GX fingerprints a pandas batch by hashing every row when the frame is under
        # HASH_THRESHOLD bytes: a third of the audit's time on a 100k-firm round, for an id
        # the run already has (its run id and compute database). Off for our batches only.
        threshold = pandas_execution_engine.HASH_THRESHOLD
        pandas_execution_engine.HASH_THRESHOLD = 0
        try:
            outcome = definition.run(
                batch_parameters={"dataframe": _frame(frames[suite.name])},
                expectation_parameters=parameters,
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": EXAMPLES,
                    "unexpected_index_column_names": [*suite.key, *suite.show],
                },
                run_id=gx_run,
            )
        finally:
            pandas_execution_engine.HASH_THRESHOLD = threshold
        # GX orders the results its own way: each names its expectation's index in meta
        by_index = {
            int(result.expectation_config.meta["index"]): result for result in outcome.results
        }
        results[suite.name] = [
            (expectation, by_index[index]) for index, expectation in enumerate(suite.expectations)
        ]
    seconds["validate"] = time.perf_counter() - mark
    if data_docs:
        mark = time.perf_counter()
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
        offline_data_docs(project_dir / "data_docs")
        seconds["data_docs"] = time.perf_counter() - mark
    return results


def offline_data_docs(site: Path) -> None:
    """Make a built Data Docs site readable without the network: every page gets a fallback
    for jQuery (loaded from a CDN; without it the index's tables stay empty), our
    data_docs_offline.js, and GX's logo from the site's own copy instead of a remote image
    whose address carries the project's id."""
    static = site / "static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SUITES_DIR / OFFLINE_SCRIPT, static / OFFLINE_SCRIPT)
    for page in site.rglob("*.html"):
        to_static = Path(os.path.relpath(static, page.parent)).as_posix()
        html = page.read_text(encoding="utf-8")
        source = f"{to_static}/{OFFLINE_SCRIPT}"
        # <\/script> inside the script's string: the HTML parser must not end it there
        fallback = (
            "<script>window.jQuery || document.write("
            f"'<script src=\"{source}\"><\\/script>')</script>"
        )
        html = _JQUERY_TAG.sub(lambda found, extra=fallback: found.group(1) + extra, html, count=1)
        html = _REMOTE_LOGO.sub(f"{to_static}/images/logo-long.png", html)
        page.write_text(html, encoding="utf-8")


def _frame(frame: Any) -> Any:
    """A frame, or the frame a future will hold."""
    return frame.result() if isinstance(frame, Future) else frame


def _check_row(
    suite: Suite,
    check: str,
    severity: str,
    pairs: list[tuple[Expectation, Any]],
    frame: Any,
    parameters: dict[str, float],
) -> dict[str, Any]:
    """One meta.validation_results row for a check (all its expectations)."""
    failures = []
    unexpected = 0
    examples: list[dict[str, Any]] = []
    for expectation, result in pairs:
        if result.success:
            continue
        info = result.exception_info or {}
        if info.get("raised_exception"):
            reason = (str(info.get("exception_message") or "").splitlines() or ["unknown"])[0]
            failures.append(f"{_expected(expectation, parameters)} not evaluated: {reason}")
            continue
        detail = result.result or {}
        count = int(detail.get("unexpected_count") or 0)
        unexpected += count
        rows = [_plain(row) for row in detail.get("partial_unexpected_index_list") or []]
        examples.extend(rows)
        named = ", ".join(_describe_row(row, suite.key) for row in rows[:3])
        failures.append(
            f"{count} of {detail.get('element_count', len(frame))} rows failed "
            f"{_expected(expectation, parameters)}" + (f": {named}" if named else "")
        )
    observed: dict[str, Any] = {"severity": severity, "rows": len(frame)}
    if failures:
        observed["unexpected"] = examples[:EXAMPLES]
    if suite.name == ROUND_SUITE:
        # the round suite's frame is small: its measured values are the observation
        names = [name for expectation, _ in pairs for name in _columns(expectation)]
        observed["values"] = {
            _describe_key(row, suite.key): _plain_value(row[name])
            for row in frame.to_dict("records")
            for name in dict.fromkeys(names)
            if _plain_value(row[name]) is not None
        }
    return {
        "suite": suite.name,
        "check_name": check,
        "severity": severity,
        "success": not failures,
        "unexpected_count": unexpected,
        "observed": json.dumps(observed, ensure_ascii=False, default=str),
        "message": "; ".join(failures) if failures else None,
    }


def _columns(expectation: Expectation) -> tuple[str, ...]:
    kwargs = expectation.kwargs
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return tuple(kwargs.get("column_list", ()))


def _value(value: Any, parameters: dict[str, float]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _number(value: Any) -> str:
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def _expected(expectation: Expectation, parameters: dict[str, float]) -> str:
    """The expectation in words, its parameters filled in."""
    kwargs = {key: _value(value, parameters) for key, value in expectation.kwargs.items()}
    kind = expectation.type
    if kind == "expect_column_values_to_be_unique":
        return f"{kwargs['column']} unique"
    if kind == "expect_compound_columns_to_be_unique":
        return f"({', '.join(kwargs['column_list'])}) unique"
    if kind == "expect_column_values_to_not_be_null":
        return f"{kwargs['column']} not null"
    if kind == "expect_column_values_to_be_in_set":
        return f"{kwargs['column']} in {kwargs['value_set']}"
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        sign = ">=" if kwargs.get("or_equal") else ">"
        return f"{kwargs['column_A']} {sign} {kwargs['column_B']}"
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        low_sign = ">" if kwargs.get("strict_min") else ">="
        high_sign = "<" if kwargs.get("strict_max") else "<="
        parts = []
        if low is not None:
            parts.append(f"{low_sign} {_number(low)}")
        if high is not None:
            parts.append(f"{high_sign} {_number(high)}")
        return f"{kwargs['column']} {' and '.join(parts)}"
    return kind


def _plain_value(value: Any) -> Any:
    """A JSON-able value (numpy scalars to Python; NaN to None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _plain(row: Any) -> dict[str, Any]:
    return {str(key): _plain_value(value) for key, value in dict(row).items()}


def _describe_key(row: dict[str, Any], key: tuple[str, ...]) -> str:
    return " ".join(str(row.get(name)) for name in key)


def _describe_row(row: dict[str, Any], key: tuple[str, ...]) -> str:
    """``F001 (beta_sum 1.25)``: the row's key, then its other (not null) values."""
    rest = ", ".join(
        f"{name} {_number(value)}"
        for name, value in row.items()
        if name not in key and value is not None
    )
    return _describe_key(row, key) + (f" ({rest})" if rest else "")


def data_docs_target(home: Path, round_id: str, run_id: str, publication: dict | None) -> Path:
    """Where a run's audit folder is kept: ``<home>/reports/<round>/v<version>/validation``
    for the run that published that version, ``.../run-<run_id>/validation`` otherwise."""
    folder = f"run-{run_id}"
    if publication and publication.get("status") == "published":
        folder = f"v{publication['version']}"
    return Path(home) / "reports" / round_id / folder / "validation"


def place_data_docs(audit: dict[str, Any], home: Path, publication: dict | None) -> str:
    """Move the audit folder to its place once the publication is known (see
    :func:`data_docs_target`); returns the path of the Data Docs' index.html there. The
    audit dict and its audit.json name the new place."""
    source = Path(audit["project_dir"])
    target = data_docs_target(home, audit["round_id"], audit["run_id"], publication)
    if source.exists() and source.resolve() != target.resolve():
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        with contextlib.suppress(OSError):
            source.parent.rmdir()  # the run-<run_id> folder, when it held nothing else
    audit["project_dir"] = str(target)
    audit["data_docs"] = str(target / "data_docs" / "index.html")
    if target.exists():
        (target / "audit.json").write_text(json.dumps(audit, indent=1, ensure_ascii=False))
    return audit["data_docs"]


def verdict(audit: dict[str, Any]) -> str:
    """passed, passed with warnings (forced), held by warnings, or blocked."""
    if audit["failed_blocking"]:
        return "blocked"
    if audit["failed_warnings"]:
        return "passed with warnings (forced)" if audit["force_warnings"] else "held by warnings"
    return "passed"


def audit_markdown(audit: dict[str, Any]) -> str:
    """The audit as a markdown summary (the flow run's Prefect artifact)."""
    previous = (
        f"{audit['previous_round']} v{audit['previous_version']}"
        if audit["previous_round"]
        else "none"
    )
    lines = [
        f"# Audit of round {audit['round_id']}",
        "",
        f"- run: `{audit['run_id']}`",
        f"- verdict: **{verdict(audit)}**",
        f"- compared with the previous published round: {previous}",
        f"- Data Docs: `{audit['data_docs']}` (kept under `reports/{audit['round_id']}/v<version>`"
        " when the run publishes)",
        "",
        "| suite | check | severity | result | unexpected | what failed |",
        "|---|---|---|---|---|---|",
    ]
    for row in audit["checks"]:
        result = "passed" if row["success"] else "FAILED"
        lines.append(
            f"| {row['suite']} | {row['check_name']} | {row['severity']} | {result} | "
            f"{row['unexpected_count']} | {markdown_cell(row['message'] or '')} |"
        )
    return "\n".join(lines) + "\n"
