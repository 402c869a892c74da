"""Task: audit the staged round (Great Expectations) before anything is published."""

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact

from thio.expectations import audit_markdown, audit_round, verdict
from thio.lineage import recorded_step
from thio.runs import run_methodology


@task(name="audit")
def audit_staged_round(
    run: dict, validation: dict, compute: dict, force_warnings: bool = False
) -> dict:
    """Run the expectation suites on the computed marts, build the Data Docs and say whether
    the round may be published; the flow run gets the audit as a markdown artifact."""
    with recorded_step(run, "audit") as step:
        result = audit_round(
            Path(compute["db_path"]),
            Path(run["home"]),
            run["round_id"],
            run["run_id"],
            run_methodology(run),
            validation,
            force_warnings=force_warnings,
        )
        step["checks"] = result["checks"]
    create_markdown_artifact(
        markdown=audit_markdown(result),
        # artifact keys allow lower-case letters, digits and dashes only
        key=f"audit-{run['round_id'].lower()}",
        description=f"Audit of round {run['round_id']}: {verdict(result)}",
    )
    return result
