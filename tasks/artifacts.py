"""The artifacts of a survey-round flow run, keyed by round so the UI shows their history:
the run summary, the technometric map (numbers as numbers) and a link to the Data Docs."""

from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from thio.report import PUBLISHED_STATUSES, map_table, run_summary_markdown


def record_artifacts(run: dict, report: dict) -> None:
    """Attach the run's summary, and for a published or unchanged round its map and the
    link to the Data Docs where the audited version keeps them, to the flow run."""
    key = run["round_id"].lower()
    create_markdown_artifact(
        run_summary_markdown(report),
        key=f"thio-run-{key}",
        description=f"Run summary of round {run['round_id']}",
    )
    if report.get("data_docs"):
        index = Path(report["data_docs"])
        create_link_artifact(
            index.resolve().as_uri(),
            link_text=f"Data Docs of round {run['round_id']}",
            key=f"data-docs-{key}",
            description=f"Audit of round {run['round_id']} (Great Expectations Data Docs)",
        )
    if report["publication"]["status"] in PUBLISHED_STATUSES:
        title, rows = map_table(run["home"], run["round_id"])
        header, *body = rows
        create_table_artifact(
            [dict(zip(header, row, strict=True)) for row in body],
            key=f"thio-map-{key}",
            description=title,
        )
