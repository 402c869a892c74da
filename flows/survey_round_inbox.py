"""Flow: publish every round whose inbox received new survey exports, then file them."""

from prefect import flow

from flows.survey_round import survey_round
from tasks.inbox import file_inbox, plan_inbox


@flow(name="survey-round-inbox")
def survey_round_inbox(
    home: str = "thio-data",
    methodology: str | None = None,
    mapping: str | None = None,
    settle_seconds: float = 5.0,
    force_warnings: bool = False,
) -> list[str]:
    """Look in <home>/inbox/<round_id>/ folders; run each round that has settled new exports
    over all of its exports; move the new ones to processed/ or rejected/. A round whose run
    fails keeps its exports in the inbox for the next look."""
    lines: list[str] = []
    for plan in plan_inbox(home, settle_seconds):
        state = survey_round(
            round_id=plan["round_id"], inputs=plan["inputs"], home=home, methodology=methodology,
            mapping=mapping, force_warnings=force_warnings, return_state=True,
        )  # fmt: skip
        if state.is_completed():
            lines += file_inbox(plan, state.result())
        else:
            lines.append(
                f"{plan['round_id']}: run failed ({state.message}); exports left in the inbox"
            )
    return lines
