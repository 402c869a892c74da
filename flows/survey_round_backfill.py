"""Flow: re-run published rounds from their archived inputs (e.g. after a method change)."""

from prefect import flow
from prefect.states import Failed

from flows.survey_round import survey_round
from tasks.backfill import clear_restored, restore_round_inputs
from tasks.outcome import state_report


@flow(name="survey-round-backfill", persist_result=True)  # its lines survive a state read back
def survey_round_backfill(
    round_ids: list[str],
    home: str | None = None,
    methodology: str | None = None,
    mapping: str | None = None,
    force_warnings: bool = False,
):
    """Each round again over the inputs of its current version: an unchanged result makes no
    new version, a changed method or code makes version n+1. One line per round; ends
    FAILED (naming the rounds) when a round was not published or unchanged."""
    results = []
    for round_id in round_ids:
        restored = restore_round_inputs(home, round_id, return_state=True)
        if not restored.is_completed():
            results.append({"round_id": round_id, "status": "failed", "message": restored.message})
            continue
        inputs = restored.result()["inputs"]
        state = survey_round(
            round_id=round_id, inputs=inputs, home=home, methodology=methodology,
            mapping=mapping or restored.result()["mapping"], force_warnings=force_warnings,
            return_state=True,
        )  # fmt: skip
        clear_restored(home, inputs)
        report = state_report(state)
        if report is not None:
            results.append({"round_id": round_id, **report["publication"]})
        else:
            results.append({"round_id": round_id, "status": "failed", "message": state.message})
    failed = [
        f"{row['round_id']} {row['status']}"
        for row in results
        if row["status"] not in ("published", "unchanged")
    ]
    if failed:
        return Failed(message="rounds not published: " + ", ".join(failed), data=results)
    return results
