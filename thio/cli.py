"""The ``thio`` command line.

Exit codes: 0 published or unchanged; 1 nothing published (input rejected or round blocked)
or another error the user can act on; 2 usage error. Never a traceback: unexpected errors
are written to ``<home>/logs/thio.log`` and summarised in one line.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from thio.cli_options import home_option
from thio.errors import ThioError
from thio.notify_command import notify_command
from thio.terminal import terminal_text


def _own_prefect_home(home: Path) -> None:
    """A run with no Prefect server configured starts a temporary one on the database of
    $PREFECT_HOME: give each data home its own (``<home>/.prefect``), so that runs of
    different homes never contend for one SQLite file, while the user's profiles (where
    ``prefect config set PREFECT_API_URL=...`` points runs at a server) still count. Only
    before Prefect is imported: its settings are read then."""
    if "prefect" in sys.modules or "PREFECT_API_URL" in os.environ:
        return
    if "PREFECT_HOME" in os.environ:
        return
    user_home = Path("~/.prefect").expanduser()
    os.environ.setdefault("PREFECT_PROFILES_PATH", str(user_home / "profiles.toml"))
    os.environ["PREFECT_HOME"] = str((home / ".prefect").resolve())


def _prepare_prefect(home: Path, verbose: bool) -> None:
    """Before Prefect is imported: no console logs (they go to the API and a log file), the
    data home's own Prefect database, and a watchdog that ends the temporary Prefect server
    should this process be killed (thio.watchdog)."""
    if "prefect" not in sys.modules and "PREFECT_API_URL" not in os.environ:
        from thio.watchdog import start_watchdog

        start_watchdog()
    _own_prefect_home(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        # Prefect's logging.yml takes overrides from PREFECT_LOGGING_<PATH>_<KEY>
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    log_file = (home / "logs" / "thio.log").resolve()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    for name in ("prefect", "thio"):
        logger = logging.getLogger(name)
        if any(
            getattr(handler, "baseFilename", None) == str(log_file) for handler in logger.handlers
        ):
            continue
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


def run_survey_flow(
    round_id: str,
    inputs: list[str],
    home: Path,
    methodology: str | None,
    verbose: bool,
    mapping: str | None = None,
    force_warnings: bool = False,
    dask: str | None = None,
) -> dict:
    """Start the survey-round flow on the embedded defaults (ephemeral Prefect API); with
    ``dask`` (a scheduler address) the per-file tasks run on that Dask cluster."""
    _prepare_prefect(home, verbose)
    from flows.survey_round import survey_round

    if dask:
        from prefect_dask import DaskTaskRunner

        survey_round = survey_round.with_options(task_runner=DaskTaskRunner(address=dask))
    # a round that publishes nothing ends in a failed state (Blocked, Held) that still
    # carries the run's report; an error ends in one that carries the exception
    state = survey_round(
        round_id=round_id,
        inputs=inputs,
        home=str(home),
        methodology=methodology,
        mapping=mapping,
        force_warnings=force_warnings,
        return_state=True,
    )
    report = state.result(raise_on_failure=False)
    if isinstance(report, BaseException):
        raise report
    return report


def _report_lines(report: dict) -> list[str]:
    """The run's console summary, one line per file, problem and outcome; every line is
    escaped for the terminal (file names and messages carry text from the input files)."""
    from thio.report import file_problem

    lines = []
    for row in report["files"]:
        if row["status"] == "rejected":
            lines.append(f"{row['file_name']}: rejected: {file_problem(row)}")
        else:
            # exact duplicates collapsed are the rest of rows read (rounds.input_file_rows)
            twice = row.get("rows_duplicate") or 0
            lines.append(
                f"{row['file_name']}: {row['rows_read']} rows read, "
                f"{row['rows_accepted']} accepted, {row['rows_quarantined']} quarantined"
                + (f", {twice} duplicate" if twice else "")
            )
    for message in report.get("messages", []):
        lines.append(message)
    if report.get("data_docs"):
        lines.append(f"audit report (Data Docs): {report['data_docs']}")
    publication = report["publication"]
    version = publication["version"] if publication["version"] is not None else "-"
    lines.append(
        f"round {report['round_id']}: version {version}, {publication['n_firms']} firms, "
        f"{publication['status']}"
    )
    return [terminal_text(line) for line in lines]


def _fail(home: Path | None, exc: BaseException) -> None:
    """One line for the user; the traceback goes to the log file."""
    where = ""
    if home is not None:
        log = home / "logs" / "thio.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(traceback.format_exc())
            where = f" (details in {log})"
        except OSError:
            pass
    click.echo(terminal_text(f"error: {type(exc).__name__}: {exc}{where}"), err=True)
    sys.exit(1)


def fail_line(exc: ThioError) -> None:
    """A problem the user can act on: one line (escaped, it may quote a cell), exit 1."""
    click.echo(terminal_text(f"error: {exc}"), err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="thio")
def cli() -> None:
    """thio: technometric (THIO/TCC) survey pipeline.

    Ingests survey exports, validates them, computes the technology contribution
    coefficient in DuckDB and publishes versioned rounds to <home>/warehouse.duckdb.
    """


@cli.command("run")
@home_option("Data home (warehouse, raw archive, reports). Env: THIO_HOME.")
@click.option("--round", "round_id", required=True, help="Survey round id: YYYYQn or YYYY.")
@click.option(
    "--methodology",
    type=click.Path(exists=True, dir_okay=False),
    help="Methodology file (default: the shipped methodology.yaml).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="Mapping file: the inputs are survey-tool exports (schemas/mappings/*.yaml).",
)
@click.option(
    "--force-warnings",
    is_flag=True,
    help="Publish although warning expectations failed (a blocking one still blocks).",
)
@click.option(
    "--dask",
    metavar="ADDRESS",
    envvar="THIO_DASK_ADDRESS",
    help="Read the input files on this Dask cluster (e.g. tcp://scheduler:8786). "
    "Env: THIO_DASK_ADDRESS.",
)
@click.option("--verbose", is_flag=True, help="Show Prefect's logs on the console.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
def run_command(
    home: Path,
    round_id: str,
    methodology: str | None,
    mapping: str | None,
    force_warnings: bool,
    dask: str | None,
    verbose: bool,
    inputs: tuple[str, ...],
) -> None:
    """Run one survey round: INPUT... are workbooks (.xlsx) or CSV folders of one round.

    Prints one line per input file (rows read, accepted, quarantined), the problems found,
    and one line for the publication. Exit status: 0 published or unchanged, 1 nothing
    published (input rejected, round blocked, or an error), 2 usage error.
    """
    from thio.contract import check_round_id
    from thio.expectations import check_severities
    from thio.methodology import load_methodology

    try:
        check_round_id(round_id)
    except ThioError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        # a broken file is reported before Prefect starts (its audit checks too)
        check_severities(load_methodology(methodology))
        if mapping is not None:
            from thio.mapping import load_mapping

            mapping = str(load_mapping(mapping).path.resolve())  # likewise
        report = run_survey_flow(
            round_id, list(inputs), home, methodology, verbose, mapping, force_warnings, dask
        )
    except ThioError as exc:
        fail_line(exc)
    except Exception as exc:  # never a traceback on the console
        _fail(home, exc)
    for line in _report_lines(report):
        click.echo(line)
    sys.exit(0 if report["publication"]["status"] in ("published", "unchanged") else 1)


@cli.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--methodology",
    type=click.Path(exists=True, dir_okay=False),
    help="Methodology file whose criteria and scales the template lists.",
)
def template_command(out: Path, methodology: str | None) -> None:
    """Write a blank canonical survey workbook to OUT (.xlsx), with notes in en and id."""
    from thio.methodology import load_methodology
    from thio.template import write_template

    if out.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{out.name}: the template is a workbook; name it *.xlsx")
    try:
        write_template(out, load_methodology(methodology))
    except ThioError as exc:
        fail_line(exc)
    click.echo(f"wrote {out}")


@cli.command("map")
@home_option("Data home holding warehouse.duckdb.")
@click.option("--round", "round_id", help="Round (default: the latest published round).")
@click.option(
    "--lang",
    type=click.Choice(["en", "id"]),
    default="en",
    show_default=True,
    help="Language of the labels.",
)
def map_command(home: Path, round_id: str | None, lang: str) -> None:
    """Print the technometric map of a published round (per sector)."""
    from thio.report import technometric_map

    try:
        click.echo(technometric_map(home, round_id, lang))
    except ThioError as exc:
        fail_line(exc)
    except Exception as exc:  # a corrupt warehouse: one line, the traceback in the log
        _fail(home, exc)


@cli.command("demo")
@home_option("Data home for the demo's warehouse.")
@click.option(
    "--firms",
    type=click.IntRange(10, 100_000),
    default=300,
    show_default=True,
    help="Number of firms in the generated sample.",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "id"]),
    default="en",
    show_default=True,
    help="Language of the map's labels.",
)
@click.option("--verbose", is_flag=True, help="Show Prefect's logs on the console.")
def demo_command(home: Path, firms: int, lang: str, verbose: bool) -> None:
    """Generate a sample city survey (3 quarterly rounds), run them, print the map and the
    mentoring programmes' effect."""
    from thio.report import program_effects, technometric_map
    from thio.sample import generate_rounds, write_workbook

    try:
        round_ids = ("2024Q1", "2024Q2", "2024Q3")
        rounds = generate_rounds(n_firms=firms, round_ids=round_ids)
        for round_id, sheets in zip(round_ids, rounds, strict=True):
            folder = home / "demo" / "inputs"
            folder.mkdir(parents=True, exist_ok=True)
            workbook = folder / f"survey_{round_id}.xlsx"
            write_workbook(sheets, workbook)
            report = run_survey_flow(round_id, [str(workbook)], home, None, verbose)
            for line in _report_lines(report):
                click.echo(line)
        click.echo("")
        click.echo(technometric_map(home, round_ids[-1], lang))
        effects = program_effects(home, lang)
        if effects:
            click.echo("")
            click.echo(effects)
    except ThioError as exc:
        fail_line(exc)
    except Exception as exc:
        _fail(home, exc)


@cli.command("quarantine")
@home_option("Data home holding warehouse.duckdb.")
@click.option("--round", "round_id", required=True, help="Survey round id: YYYYQn or YYYY.")
@click.option("--run", "run_id", help="Run id (default: the round's latest run).")
@click.option(
    "--xlsx",
    "xlsx",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the review workbook for the enumerators (one sheet per input sheet).",
)
def quarantine_command(home: Path, round_id: str, run_id: str | None, xlsx: Path | None) -> None:
    """List the rows the round's latest run quarantined, with what is wrong with each.

    --xlsx OUT writes them as a workbook: the original rows with a problem column (and the
    file and row they came from). Correct the round's workbook(s) and run the round again:
    the next version includes the fixed firms, and this command then shows only what is
    still wrong. Exit status: 0 listed (even when nothing is quarantined), 1 error.
    """
    from thio.quarantine import (
        quarantine_lines,
        review_rows,
        round_quarantine,
        write_review_workbook,
    )

    if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{xlsx.name}: the review workbook is a workbook; name it *.xlsx")
    try:
        run, records = round_quarantine(home, round_id, run_id)
        for line in quarantine_lines(run, records):
            click.echo(terminal_text(line))
        if xlsx is not None:
            counts = write_review_workbook(review_rows(home, run, records), xlsx)
            summary = ", ".join(f"{name} {count}" for name, count in counts.items()) or "empty"
            click.echo(terminal_text(f"wrote {xlsx} ({summary})"))
    except ThioError as exc:
        fail_line(exc)
    except Exception as exc:  # never a traceback on the console
        _fail(home, exc)


@cli.group("mapping")
def mapping_group() -> None:
    """Mapping files: how a survey tool's export becomes the input contract's sheets."""


@mapping_group.command("check")
@click.argument("mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def mapping_check_command(mapping_file: Path, export: Path) -> None:
    """Check MAPPING_FILE against EXPORT: one line per contract column (matched, from which
    export column, or missing) and the export's columns no mapping reads.

    Exit status: 0 every required column matched, 1 not (or the export is unreadable),
    2 usage error (including a mapping file that is not valid).
    """
    from thio.mapping import MappingError, check_export, load_mapping

    try:
        loaded = load_mapping(mapping_file)
    except MappingError as exc:
        click.echo(terminal_text(f"error: {exc}"), err=True)
        sys.exit(2)
    try:
        report = check_export(loaded, export)
    except Exception as exc:  # never a traceback on the console
        click.echo(
            terminal_text(f"error: {export.name}: cannot be checked ({type(exc).__name__}: {exc})"),
            err=True,
        )
        sys.exit(1)
    click.echo(terminal_text(f"mapping {loaded.name} ({loaded.format}) against {export.name}"))
    for line in report.text_lines():
        click.echo(terminal_text(line))
    sys.exit(0 if report.ok else 1)


def _add_audit_commands() -> None:
    from thio.audit_commands import AUDIT_COMMANDS

    for command in AUDIT_COMMANDS:
        cli.add_command(command)


_add_audit_commands()
cli.add_command(notify_command)


def main() -> None:
    """Entry point of the ``thio`` script."""
    cli(prog_name="thio")


if __name__ == "__main__":
    main()
