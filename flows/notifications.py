"""Tell the data team when a survey round does not succeed: a Prefect Webhook block and an
automation that calls it when a ``survey-round`` flow run ends in one of ALERT_STATES.

Both live on the Prefect server the rounds run on (PREFECT_API_URL), so the alert fires for
every run however it was started (a deployment, inside an inbox or backfill run) and needs
no code in the flow itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.settings import get_current_settings

from thio.errors import ThioError

FLOW_NAME = "survey-round"
DEFAULT_NAME = "thio-survey-round-alerts"

# Prefect emits ``prefect.flow-run.<state name>`` for every state change, so the trigger
# lists state *names*: Blocked and Held are FAILED-type states with names of their own and
# would slip past a trigger on "Failed" alone.
ALERT_STATES: tuple[str, ...] = (
    # an exception in a task or in the flow: the round may be half done, nothing new is
    # published (a publication is one atomic swap)
    "Failed",
    # the process running the flow died (killed, out of memory, the worker lost): Prefect
    # never saw the flow finish, so no other state would ever tell anyone
    "Crashed",
    # the flow engine's name for a run that exceeded the flow's timeout_seconds (none is set
    # today; with_options can set one): as silent as a crash otherwise
    "TimedOut",
    # the input or a blocking expectation refused the round: nothing is published until the
    # exports are corrected
    "Blocked",
    # warning expectations failed: the round waits until someone reads the audit and runs
    # it again with force_warnings
    "Held",
)

# Fields come from the triggering event where they can (its resource carries the run's id,
# name and the state as it was at that moment, even if the run has moved on since); the
# round and the link need the flow run object, which Prefect fetches when the template
# names ``flow_run``. ``tojson`` keeps quotes and newlines of a state message valid JSON;
# ``default(none)`` turns what is missing (a run without round_id, one not started from a
# deployment) into null instead of failing the render, which would lose the alert.
_PAYLOAD_FIELDS: tuple[tuple[str, str], ...] = (
    (
        "text",
        '(flow_name ~ (" " ~ round_id if round_id else "") ~ ": "'
        ' ~ run["prefect.state-name"] ~ (" - " ~ run["prefect.state-message"]'
        ' if run["prefect.state-message"] else "") ~ " (flow run " ~ run.name ~ ")")',
    ),
    ("flow", "flow_name"),
    ("flow_run_id", 'run.id | replace("prefect.flow-run.", "")'),
    ("flow_run_name", "run.name"),
    ("state", 'run["prefect.state-name"]'),
    ("state_type", 'run["prefect.state-type"]'),
    ("message", 'run["prefect.state-message"]'),
    ("round_id", "round_id"),
    ("deployment", "deployment.name | default(none)"),
    ("url", "flow_run | ui_url | default(none)"),
    ("occurred", "event.occurred.isoformat()"),
)

PAYLOAD_TEMPLATE = (
    "{%- set run = event.resource -%}\n"
    f'{{%- set flow_name = "{FLOW_NAME}" -%}}\n'
    "{%- set round_id = flow_run.parameters.round_id | default(none) -%}\n"
    "{\n"
    + ",\n".join(f'  "{key}": {{{{ ({value}) | tojson }}}}' for key, value in _PAYLOAD_FIELDS)
    + "\n}\n"
)

PAYLOAD_FIELDS: tuple[str, ...] = tuple(key for key, _ in _PAYLOAD_FIELDS)


class NotificationError(ThioError):
    """The alerts cannot be installed: no Prefect server configured, or it cannot be reached."""


@dataclass(frozen=True)
class NotificationSetup:
    """What install_notifications left on the server."""

    name: str
    block_document_id: UUID
    automation_id: UUID
    created: bool  # False: an automation of that name existed and was updated
    states: tuple[str, ...] = ALERT_STATES


def alert_automation(name: str, block_document_id: UUID) -> AutomationCore:
    """The automation calling the webhook block for each survey-round run in ALERT_STATES."""
    return AutomationCore(
        name=name,
        description=(
            f"thio: POST a JSON alert when a {FLOW_NAME} flow run ends "
            + ", ".join(ALERT_STATES)
            + " (installed by `thio notify`)."
        ),
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            expect={f"prefect.flow-run.{state}" for state in ALERT_STATES},
            # one evaluation per flow run: two runs failing together are two alerts
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=0,
        ),
        actions=[CallWebhook(block_document_id=block_document_id, payload=PAYLOAD_TEMPLATE)],
    )


def configured_api_url() -> str:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    url = get_current_settings().api.url
    if not url:
        # without it Prefect would start a temporary server for this process, and the
        # automation would vanish with it
        raise NotificationError(
            "PREFECT_API_URL is not set: point it at the Prefect server that runs the rounds "
            "(e.g. prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api)"
        )
    return url


def install_notifications(webhook_url: str, name: str = DEFAULT_NAME) -> NotificationSetup:
    """Create or update the Webhook block and the automation called ``name`` on the Prefect
    server of PREFECT_API_URL. Running it again replaces the URL and the automation's
    definition and leaves one block and one automation of that name."""
    api_url = configured_api_url()
    with get_client(sync_client=True) as client:
        unreachable = client.api_healthcheck()
        if unreachable is not None:
            raise NotificationError(f"cannot reach the Prefect API at {api_url}: {unreachable!r}")
        # the payload is a rendered string, which Prefect sends without a content type;
        # receivers (Slack among them) choose how to parse a body by its content type
        block = Webhook(
            method="POST", url=webhook_url, headers={"Content-Type": "application/json"}
        )
        block_document_id = block.save(name, overwrite=True)
        automation = alert_automation(name, block_document_id)
        existing = client.read_automations_by_name(name)
        if not existing:
            automation_id = client.create_automation(automation)
        else:
            keep, *duplicates = existing
            client.update_automation(keep.id, automation)
            for duplicate in duplicates:  # made by hand (the UI, prefect automation create)
                client.delete_automation(duplicate.id)
            automation_id = keep.id
    return NotificationSetup(
        name=name,
        block_document_id=block_document_id,
        automation_id=automation_id,
        created=not existing,
    )
