"""Flow: publish every round whose inbox received new survey exports, then file them."""

from prefect import flow
from prefect.states import Failed

from flows.survey_round import survey_round
from tasks.inbox import file_inbox, plan_inbox
from tasks.outcome import state_report


@flow(name="survey-round-inbox", persist_result=True)  # its lines survive a state read back
def survey_round_inbox(
    home: str | None = None,
    methodology: str | None = None,
    mapping: str | None = None,
    settle_seconds: float = 5.0,
    force_warnings: bool = False,
    hold_minutes: float = 0,
):
    """Look in <home>/inbox/<round_id>/ folders ($THIO_HOME or ./thio-data when home is
    None); run each round that has settled new exports over all of its exports; file the
    new ones in processed/, rejected/, held/ or blocked/. A round whose run stops on an
    error keeps its exports in the inbox for the next look. Ends COMPLETED only when every
    round was published (or unchanged); otherwise FAILED, naming the rounds."""
    lines: list[str] = []
    not_published: list[str] = []
    for plan in plan_inbox(home, settle_seconds):
        state = survey_round(
            round_id=plan["round_id"], inputs=plan["inputs"], home=home, methodology=methodology,
            mapping=mapping, force_warnings=force_warnings, hold_minutes=hold_minutes,
            return_state=True,
        )  # fmt: skip
        report = state_report(state)
        if report is not None:
            lines += file_inbox(plan, report)
        else:
            lines.append(
                f"{plan['round_id']}: run failed ({state.message}); exports left in the inbox"
            )
        if not state.is_completed():
            not_published.append(f"{plan['round_id']} {state.name}: {state.message}")
    if not_published:
        return Failed(message="; ".join(not_published), data=lines)
    return lines
