"""Flow: re-run published rounds from their archived inputs (e.g. after a method change)."""

from prefect import flow

from flows.survey_round import survey_round
from tasks.backfill import clear_restored, restore_round_inputs


@flow(name="survey-round-backfill")
def survey_round_backfill(
    round_ids: list[str],
    home: str = "thio-data",
    methodology: str | None = None,
    mapping: str | None = None,
    force_warnings: bool = False,
) -> list[dict]:
    """Each round again over the inputs of its current version: an unchanged result makes no
    new version, a changed method or code makes version n+1. One line per round."""
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
        if state.is_completed():
            publication = state.result()["publication"]
            results.append({"round_id": round_id, **publication})
        else:
            results.append({"round_id": round_id, "status": "failed", "message": state.message})
    return results
