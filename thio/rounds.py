"""Close a run: reconcile what was read, accepted and quarantined, then publish or refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from thio.publish import publish_round
from thio.release import staged_file_rows
from thio.runs import run_methodology

# Rows quarantined only because their firm or item was: listed after the root causes.
CASCADE_RULES = ("firm_excluded", "item_excluded")
# The records of exact duplicate rows (thio.validation.DUPLICATE_RULE): collapsed, not
# quarantined; the console lists them from validation's "duplicates".
DUPLICATE_RULE = "duplicate_row"
# Problems printed on the console; all of them are in meta.quarantine.
CONSOLE_MESSAGES = 20
# Exact duplicate rows listed on the console; all are counted in meta.input_sheets.
CONSOLE_DUPLICATES = 5


def can_validate(ingest: dict[str, Any]) -> bool:
    """Whether ingest left a round to validate (the required sheets came from a readable file)."""
    return bool(ingest.get("ok"))


def can_compute(validation: dict[str, Any] | None) -> bool:
    """Whether the validated round may be computed (validation accepted a firm)."""
    return validation is not None and not validation["blocked"]


def input_file_rows(
    run: dict[str, Any], ingest: dict[str, Any], validation: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """meta.input_files rows (sheet None) and meta.input_sheets rows (one per sheet read).

    For every row rows_read = rows_accepted + rows_quarantined + rows_duplicate (exact
    duplicates collapsed by validation); a rejected file counts its rows read as 0, a file
    of a round that was not validated counts all its rows as quarantined (held back).
    """
    per_sheet: dict[tuple[str, str], dict[str, Any]] = {}
    if validation is not None:
        for row in validation["files"]:
            per_sheet[(row["file_name"], row["sheet"])] = row
    rows = []
    for record in ingest["files"]:
        base = {
            "run_id": run["run_id"],
            "round_id": run["round_id"],
            "file_name": record["file_name"],
            "sha256": record["sha256"],
            "bytes": record["bytes"],
            "sheets": ",".join(record["sheets"]),
            "status": record["status"],
            "message": record["message"] or None,
            "notes": "\n".join(record.get("notes", [])) or None,
        }
        counted = [per_sheet.get((record["file_name"], sheet)) for sheet in record["sheets"]]
        known = [count for count in counted if count is not None]
        rows_read = sum(record["rows_read"].values())
        accepted = sum(count["rows_accepted"] for count in known) if known else None
        quarantined = sum(count["rows_quarantined"] for count in known) if known else None
        duplicate = sum(count.get("rows_duplicate", 0) for count in known)
        if record["status"] == "rejected":
            accepted, quarantined, duplicate = 0, 0, 0
        elif not known:
            # not validated (the round was rejected as a whole): every row is held back
            accepted, quarantined = 0, rows_read
        rows.append(
            {
                **base,
                "sheet": None,
                "rows_read": rows_read,
                "rows_accepted": accepted,
                "rows_quarantined": quarantined,
                "rows_duplicate": duplicate,
            }
        )
        for sheet, count in zip(record["sheets"], counted, strict=True):
            read = record["rows_read"].get(sheet, 0)
            rows.append(
                {
                    **base,
                    "sheet": sheet,
                    "rows_read": read,
                    "rows_accepted": count["rows_accepted"] if count else 0,
                    "rows_quarantined": count["rows_quarantined"] if count else read,
                    "rows_duplicate": count.get("rows_duplicate", 0) if count else 0,
                }
            )
    return rows


def run_status(ingest: dict[str, Any], validation: dict[str, Any] | None) -> str:
    """rejected (nothing usable was read), blocked (no firm accepted) or computed; the audit
    may still block or hold a computed round (:func:`audited_status`)."""
    if not can_validate(ingest):
        return "rejected"
    if not can_compute(validation):
        return "blocked"
    return "computed"


def audited_status(status: str, audit: dict[str, Any] | None) -> str:
    """The run's status once audited: a computed round whose audit failed a blocking check is
    blocked; one that failed only warning checks and was not forced is held (its staged
    files are kept for ``thio release``)."""
    if status != "computed" or audit is None:
        return status
    if audit["held"]:
        return "held"
    return "blocked" if audit["blocked"] else status


def console_messages(quarantine_path: Path, limit: int = CONSOLE_MESSAGES) -> list[str]:
    """The quarantine's messages for the console: root causes first, cascades counted."""
    if not quarantine_path.exists():
        return []
    table = pq.read_table(quarantine_path, columns=["rule", "message"])
    table = table.filter(pc.not_equal(table["rule"], DUPLICATE_RULE))
    cascade = pc.is_in(table["rule"], value_set=pa.array(CASCADE_RULES, type=pa.string()))
    causes = table.filter(pc.invert(cascade))["message"].to_pylist()
    n_cascade = table.num_rows - len(causes)
    lines = causes[:limit]
    if len(causes) > limit:
        lines.append(f"... and {len(causes) - limit} more problems (see meta.quarantine)")
    if n_cascade:
        lines.append(f"{n_cascade} more rows quarantined because their firm or item was excluded")
    return lines


def _messages(
    ingest: dict[str, Any], validation: dict[str, Any] | None, work_dir: Path
) -> list[str]:
    messages = [note for record in ingest["files"] for note in record.get("notes", [])]
    if not can_validate(ingest):
        missing = ", ".join(ingest.get("missing_sheets", []))
        messages.append(f"round rejected: no readable input has the required sheet {missing}")
    if validation is not None:
        messages.extend(console_messages(work_dir / "quarantine.parquet"))
        duplicates = validation.get("duplicates", [])
        messages.extend(duplicates[:CONSOLE_DUPLICATES])
        more = validation.get("n_duplicate_rows", 0) - min(len(duplicates), CONSOLE_DUPLICATES)
        if more > 0:
            messages.append(f"... and {more} more exact duplicate rows collapsed")
        if validation["blocked"]:
            messages.append(f"round blocked: {validation['blocked_reason']}")
    return messages


def audit_messages(audit: dict[str, Any] | None) -> list[str]:
    """The audit's lines for the console: each failed expectation with what was observed."""
    if audit is None:
        return []
    messages = [
        f"round blocked: expectation {failure} (blocking)" for failure in audit["failed_blocking"]
    ]
    messages += [f"warning: expectation {failure}" for failure in audit["failed_warnings"]]
    if audit["held"]:
        messages.append(
            "round held: warning expectations failed; release it (thio release --round "
            f"{audit['round_id']} --run {audit['run_id']} --reason ...) or run it again with "
            "--force-warnings to publish it anyway"
        )
    return messages


def publish_run(
    run: dict[str, Any],
    ingest: dict[str, Any],
    validation: dict[str, Any] | None,
    compute: dict[str, Any] | None,
    audit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the run in the warehouse and publish its version; returns the run's report.

    ``audit`` is the audit step's verdict (:func:`thio.expectations.audit_round`): a blocked
    audit publishes nothing (status "blocked"), nor does a held one (status "held", with the
    sha256 of the staged files a release publishes from in meta.staged_files); its checks
    are recorded either way, and its Data Docs folder is moved to
    ``<home>/reports/<round>/v<version>`` (or ``run-<run_id>``). The flow always audits;
    None publishes without the expectation gate (tests and benchmarks of this step alone).
    """
    methodology = run_methodology(run)
    status = audited_status(run_status(ingest, validation), audit)
    work_dir = Path(run["work_dir"])
    staged_files = None
    if status == "held" and compute:
        staged_files = staged_file_rows(Path(run["home"]), run, Path(compute["db_path"]))
    files = input_file_rows(run, ingest, validation)
    checks = list(validation.get("checks", [])) if validation else []
    checks += list(compute.get("checks", [])) if compute else []
    checks += list(audit["checks"]) if audit else []
    publication = publish_round(
        Path(run["home"]),
        {**run, "status": status},
        methodology,
        files,
        work_dir / "quarantine.parquet" if validation is not None else None,
        Path(compute["db_path"]) if compute and status == "computed" else None,
        checks,
        staged_files,
    )
    report = {
        "run_id": run["run_id"],
        "round_id": run["round_id"],
        "files": [row for row in files if row["sheet"] is None],
        "messages": _messages(ingest, validation, work_dir) + audit_messages(audit),
        "publication": publication,
        # what validation let through, also when nothing was published (held, blocked)
        "firms_accepted": validation["n_firms_accepted"] if validation else 0,
    }
    if audit is not None:
        from thio.expectations import place_data_docs

        report["data_docs"] = place_data_docs(audit, Path(run["home"]), publication)
    return report
