"""The auditors' commands of the ``thio`` CLI: lineage, trace, verify, diff, retract, release.

All but ``retract`` and ``release`` only read: they open the published warehouse read-only
and never block a run or another reader. Exit codes: 0 done (verify: verified), 1 a problem
the user can act on (verify: not verified), 2 usage error; never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from thio.cli_options import home_option
from thio.errors import ThioError
from thio.terminal import terminal_text

HOME_HELP = "Data home holding warehouse.duckdb (default: $THIO_HOME or ./thio-data)."


def _round_option(command: Callable) -> Callable:
    return click.option("--round", "round_id", required=True, help="Survey round id.")(command)


def _version_option(command: Callable) -> Callable:
    return click.option(
        "--version",
        "version",
        type=click.IntRange(min=1),
        help="Version (default: the round's current published version).",
    )(command)


def _run(home: Path, produce: Callable[[], list[str]]) -> None:
    """Print the lines ``produce`` returns, each escaped for the terminal (file names, firm
    ids and quarantined values come from the input files); a ThioError is one line and
    exit 1, as is any other error (a corrupt warehouse file), its traceback in the log."""
    from thio.cli import _fail, fail_line

    try:
        lines = produce()
    except ThioError as exc:
        fail_line(exc)
    except Exception as exc:
        _fail(home, exc)
    for line in lines:
        click.echo(terminal_text(line))


@click.command("lineage")
@home_option(HOME_HELP)
@_round_option
@_version_option
def lineage_command(home: Path, round_id: str, version: int | None) -> None:
    """Where a publication came from: run, input files (sha256, rows), method, checks, code."""
    from thio.audit import lineage_lines

    _run(home, lambda: lineage_lines(home, round_id, version))


@click.command("trace")
@home_option(HOME_HELP)
@_round_option
@click.option("--firm", "firm_id", required=True, help="Firm id.")
@_version_option
def trace_command(home: Path, round_id: str, firm_id: str, version: int | None) -> None:
    """Every published number of a firm with the file, sheet and row it came from."""
    from thio.audit import trace_lines

    _run(home, lambda: trace_lines(home, round_id, firm_id, version))


@click.command("verify")
@home_option(HOME_HELP)
@_round_option
@_version_option
def verify_command(home: Path, round_id: str, version: int | None) -> None:
    """Recompute a version from its archived files and method; exit 1 if it differs."""
    from thio.audit import verify_publication

    outcome: dict[str, bool] = {}

    def produce() -> list[str]:
        ok, lines = verify_publication(home, round_id, version)
        outcome["ok"] = ok
        return lines

    _run(home, produce)
    if not outcome.get("ok"):
        sys.exit(1)


@click.command("diff")
@home_option(HOME_HELP)
@_round_option
@click.option("--from", "from_version", type=click.IntRange(min=1), required=True)
@click.option("--to", "to_version", type=click.IntRange(min=1), required=True)
def diff_command(home: Path, round_id: str, from_version: int, to_version: int) -> None:
    """Firms added, removed and changed between two versions of a round."""
    from thio.audit import diff_lines

    _run(home, lambda: diff_lines(home, round_id, from_version, to_version))


@click.command("retract")
@home_option(HOME_HELP)
@_round_option
@click.option("--version", "version", type=click.IntRange(min=1), required=True)
@click.option("--reason", required=True, help="Why the version is withdrawn (recorded).")
def retract_command(home: Path, round_id: str, version: int, reason: str) -> None:
    """Mark a version retracted; it stays queryable and latest.* falls back."""
    from thio.retraction import retract_version

    def produce() -> list[str]:
        result = retract_version(home, round_id, version, reason)
        current = result["current_version"]
        now = f"version {current}" if current else "no published version"
        return [f"round {round_id}: version {version} retracted; latest.* now shows {now}"]

    _run(home, produce)


@click.command("release")
@home_option(HOME_HELP)
@_round_option
@click.option("--run", "run_id", required=True, help="The held run (meta.runs.run_id).")
@click.option("--reason", required=True, help="Why the held round is published (recorded).")
@click.option("--by", "released_by", help="Who releases it (default: your user name).")
def release_command(
    home: Path, round_id: str, run_id: str, reason: str, released_by: str | None
) -> None:
    """Publish a run held by warning expectations from its staged files, as computed."""
    from thio.release import release_run

    def produce() -> list[str]:
        who = released_by if released_by is not None else _user_name()
        result = release_run(home, round_id, run_id, reason, who)
        return [
            f"round {result['round_id']}: version {result['version']}, {result['n_firms']} "
            f"firms, {result['status']} (released run {run_id} by {result['released_by']}: "
            f"{result['release_reason']})"
        ]

    _run(home, produce)


def _user_name() -> str:
    """The OS user running the command (who released, when --by is not given)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # no login name in the environment nor in the password database (a bare container)
        raise ThioError("cannot tell who you are; give --by NAME") from None


AUDIT_COMMANDS = (
    lineage_command,
    trace_command,
    verify_command,
    diff_command,
    retract_command,
    release_command,
)
