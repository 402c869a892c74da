"""Read-only reports on the published warehouse (English or Indonesian labels)."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from thio.errors import ThioError
from thio.methodology import load_methodology
from thio.publish import warehouse_path
from thio.terminal import terminal_text

LABELS = {
    "en": {
        "title": "Technometric map, round {round_id} (version {version})",
        "sector": "sector",
        "all": "all sectors",
        "firms": "firms",
        "tcc": "mean TCC",
        "class": "class",
        "priority": "first priority",
        "programs_title": "Mentoring programmes: change of mentored firms vs. same-sector firms "
        "(difference in differences; descriptive)",
        "program": "programme",
        "rounds": "rounds",
        "focus": "focus",
        "mentored": "mentored",
        "comparison": "comparison",
        "d_mentored": "dTCC mentored",
        "d_comparison": "dTCC comparison",
        "did": "DiD TCC",
        "did_focus": "DiD focus",
    },
    "id": {
        "title": "Peta teknometrik, putaran {round_id} (versi {version})",
        "sector": "sektor",
        "all": "semua sektor",
        "firms": "jumlah usaha",
        "tcc": "rata-rata TCC",
        "class": "kelas",
        "priority": "prioritas pertama",
        "programs_title": "Program pendampingan: perubahan usaha dampingan vs. usaha sesektor "
        "(selisih dari selisih; deskriptif)",
        "program": "program",
        "rounds": "putaran",
        "focus": "fokus",
        "mentored": "didampingi",
        "comparison": "pembanding",
        "d_mentored": "dTCC dampingan",
        "d_comparison": "dTCC pembanding",
        "did": "DiD TCC",
        "did_focus": "DiD fokus",
    },
}


def open_warehouse(home: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse (never blocks a writer)."""
    path = warehouse_path(Path(home))
    if not path.exists():
        raise ThioError(f"{path}: no published warehouse yet; run 'thio run' first")
    return duckdb.connect(str(path), read_only=True)


# What the map shows for a value the warehouse holds as NULL, NaN or infinite: the map of
# a damaged or older warehouse is still printed, never a crash.
MISSING = "-"


def _finite(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _sector_label(sector: str, names: dict[str, str | None]) -> str:
    name = names.get(sector)
    return f"{sector} {name}" if name else sector


def map_table(
    home: Path, round_id: str | None = None, lang: str = "en"
) -> tuple[str, list[tuple[str, ...]]]:
    """The per-sector map of a round's current version as (title, rows), the first row the
    header: sector, firms, mean TCC, class, first priority."""
    labels = LABELS[lang]
    methodology = load_methodology()
    with open_warehouse(home) as con:
        if round_id is None:
            found = con.execute("select max(round_id) from latest.tcc_by_group").fetchone()[0]
            if found is None:
                raise ThioError("no round has been published yet")
            round_id = found
        rows = con.execute(
            "select group_type, sector_code, version, n_firms, tcc_mean, tcc_mean_class, priority "
            "from latest.tcc_by_group where round_id = ? and group_type in ('sector', 'all') "
            "order by group_type = 'all', sector_code",
            [round_id],
        ).fetchall()
        names = dict(
            con.execute(
                "select sector_code, min(sector_name) from latest.firm_tcc where round_id = ? "
                "group by sector_code",
                [round_id],
            ).fetchall()
        )
    if not rows:
        raise ThioError(f"round {round_id} has no published version")
    header = (labels["sector"], labels["firms"], labels["tcc"], labels["class"], labels["priority"])
    table = [header]
    for group_type, sector, _, n_firms, tcc_mean, tcc_class, priority in rows:
        first = priority.split(",")[0] if priority else None
        table.append(
            (
                labels["all"] if group_type == "all" else _sector_label(sector, names),
                MISSING if n_firms is None else str(n_firms),
                MISSING if not _finite(tcc_mean) else f"{tcc_mean:.3f}",
                MISSING if tcc_class is None else methodology.class_label(tcc_class, lang),
                MISSING if not first else f"{first} ({methodology.component_label(first, lang)})",
            )
        )
    return labels["title"].format(round_id=round_id, version=rows[0][2]), table


def technometric_map(home: Path, round_id: str | None = None, lang: str = "en") -> str:
    """The per-sector map of a round's current version: firms, mean TCC, class, priority."""
    return _render(*map_table(home, round_id, lang))


# A run published (a new version) or found its result equal to the current version.
PUBLISHED_STATUSES = ("published", "unchanged")
# What each status that publishes nothing means, for the run summary.
NOT_PUBLISHED = {
    "held": "held by warning expectations: nothing published until a person releases it "
    "(thio release) or the round is run again with --force-warnings",
    "blocked": "blocked: nothing published (a blocking check failed or no firm was accepted)",
    "rejected": "rejected: nothing published (no readable input has the required sheets)",
}


def file_problem(row: dict) -> str:
    """Why a file was rejected, without the file's name again (the reader names it)."""
    message = str(row.get("message") or "")
    prefix = f"{row['file_name']}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def outcome_message(report: dict) -> str:
    """One line saying how a run ended: the publication, or why nothing was published."""
    publication = report["publication"]
    status = publication["status"]
    if status in PUBLISHED_STATUSES:
        return (
            f"round {report['round_id']}: version {publication['version']}, "
            f"{publication['n_firms']} firms, {status}"
        )
    reasons = [line for line in report.get("messages", []) if line.startswith("round ")]
    because = "; ".join(reasons[:3]) or "nothing published"
    return f"round {report['round_id']} {status}: {because}"


def run_summary_markdown(report: dict) -> str:
    """A run's report as markdown (the Prefect artifact of the run): the outcome (published,
    unchanged, held or blocked, with the firms accepted), files with row counts, problems."""
    publication = report["publication"]
    status = publication["status"]
    version = publication["version"] if publication["version"] is not None else "-"
    accepted = report.get("firms_accepted")
    outcome = (
        f"Version **{version}**, {publication['n_firms']} firms"
        if status in PUBLISHED_STATUSES
        else f"**{markdown_cell(NOT_PUBLISHED.get(status, status))}**"
    )
    lines = [
        f"# Round {report['round_id']}: {status}",
        "",
        f"{outcome}; run `{report['run_id']}`.",
        "",
    ]
    if accepted is not None:
        lines += [f"Firms accepted by validation: **{accepted}**.", ""]
    lines += [
        "| file | status | rows read | accepted | quarantined |",
        "|---|---|---:|---:|---:|",
    ]
    for row in report["files"]:
        name = markdown_cell(row["file_name"])
        if row["status"] == "rejected":
            lines.append(f"| {name} | rejected: {markdown_cell(file_problem(row))} | | | |")
        else:
            lines.append(
                f"| {name} | {row['status']} | {row['rows_read']} | {row['rows_accepted']} "
                f"| {row['rows_quarantined']} |"
            )
    messages = report.get("messages") or []
    if messages:
        lines += ["", "## Problems and warnings", ""]
        lines += [f"- {markdown_cell(message)}" for message in messages]
    return "\n".join(lines) + "\n"


def markdown_cell(text: object) -> str:
    """Text from an input file inside a markdown table cell: no cell breaks, no markup."""
    cleaned = " ".join(str(text).split())
    for character in "\\|`*_[]<>#":
        cleaned = cleaned.replace(character, f"\\{character}")
    return cleaned


def _render(title: str, table: list[tuple[str, ...]]) -> str:
    """A titled text table for the terminal; every cell escaped (sector names, programme
    ids and focus come from the input files)."""
    title = terminal_text(title)
    table = [tuple(terminal_text(cell) for cell in row) for row in table]
    widths = [max(len(row[index]) for row in table) for index in range(len(table[0]))]
    lines = [title]
    for number, row in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _signed(value: float | None) -> str:
    return MISSING if not _finite(value) else f"{value:+.3f}"


def program_effects(home: Path, lang: str = "en") -> str | None:
    """The mentoring programmes with a published round before and after them (marts.program_effect),
    one line each; None when there is none yet."""
    labels = LABELS[lang]
    with open_warehouse(home) as con:
        rows = con.execute(
            "select program_id, from_round, to_round, focus, n_mentored, n_comparison, "
            "d_tcc_mentored, d_tcc_comparison, did_tcc, did_focus from latest.program_effect "
            "order by program_id, from_round, to_round"
        ).fetchall()
    if not rows:
        return None
    keys = ("program", "rounds", "focus", "mentored", "comparison", "d_mentored", "d_comparison")
    table = [(*(labels[key] for key in keys), labels["did"], labels["did_focus"])]
    for program_id, from_round, to_round, focus, n_m, n_c, d_m, d_c, did, did_focus in rows:
        table.append(
            (
                program_id,
                f"{from_round} -> {to_round}",
                focus,
                str(n_m),
                str(n_c),
                _signed(d_m),
                _signed(d_c),
                _signed(did),
                _signed(did_focus),
            )
        )
    return _render(labels["programs_title"], table)
