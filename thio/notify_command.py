"""``thio notify``: have the Prefect server POST to a webhook when a survey round does not
succeed (flows.notifications does the Prefect side).

Exit codes: 0 installed, 1 no Prefect server configured or reachable (or it refused), 2 usage
error; never a traceback.
"""

from __future__ import annotations

import re
import sys
from urllib.parse import urlsplit

import click

from thio.errors import ThioError

DEFAULT_NAME = "thio-survey-round-alerts"  # flows.notifications.DEFAULT_NAME, without Prefect
# the Webhook block shares the automation's name, and Prefect's block names allow only these
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def _webhook_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not an http(s) URL")
    return value


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise click.BadParameter(
            f"{value!r}: use lowercase letters, digits and dashes (it names a Prefect block too)"
        )
    return value


@click.command("notify")
@click.option(
    "--webhook",
    "webhook_url",
    required=True,
    metavar="URL",
    callback=_webhook_url,
    help="http(s) URL to POST the JSON alert to (Slack, Teams, any webhook receiver).",
)
@click.option(
    "--name",
    default=DEFAULT_NAME,
    show_default=True,
    callback=_name,
    help="Name of the Prefect automation and of its Webhook block.",
)
def notify_command(webhook_url: str, name: str) -> None:
    """POST an alert to URL whenever a survey-round flow run ends Failed, Crashed, TimedOut,
    Blocked or Held.

    Creates (or, run again, updates) a Webhook block and an automation NAME on the Prefect
    server of PREFECT_API_URL. Remove them with `prefect automation delete NAME` and
    `prefect block delete webhook/NAME`.
    """
    try:
        from flows.notifications import install_notifications

        setup = install_notifications(webhook_url, name)
    except ThioError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # the server refused (or broke): one line, never a traceback
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"automation {setup.name} {'created' if setup.created else 'updated'}: "
        f"survey-round runs ending {', '.join(setup.states)} are posted to the webhook"
    )
