"""thio.runs: the round a scheduled run derives, and where the data home is."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.objects import FlowRun
from prefect.server.schemas.schedules import CronSchedule

from thio.errors import ThioError
from thio.runs import quarter_before, resolve_home

REPO = Path(__file__).resolve().parents[2]


def _quarterly_schedule() -> dict:
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    quarterly = next(d for d in deployments if d["name"] == "survey-round-quarterly")
    return quarterly["schedules"][0]


def _as_prefect_hands_it(moment: datetime) -> datetime:
    """The scheduled time as a flow run reads it: the server stores it in UTC and its API
    sends it so (``"expected_start_time": "2026-12-31T23:00:00Z"``); the client's FlowRun
    model parses that JSON."""
    sent = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = f'{{"flow_id": "{uuid.UUID(int=0)}", "expected_start_time": "{sent}"}}'
    return FlowRun.model_validate_json(payload).expected_start_time


def test_each_quarterly_date_gives_the_quarter_that_just_ended():
    schedule = _quarterly_schedule()
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    dates = asyncio.run(cron.get_dates(n=4, start=datetime(2024, 12, 15, tzinfo=UTC)))
    handed = [_as_prefect_hands_it(date) for date in dates]
    # 06:00 in Jakarta (UTC+7) is 23:00 UTC the day before: every date falls in the
    # previous quarter's last day in UTC
    assert [(m.month, m.day, m.hour, m.utcoffset().total_seconds()) for m in handed] == [
        (12, 31, 23, 0),
        (3, 31, 23, 0),
        (6, 30, 23, 0),
        (9, 30, 23, 0),
    ]
    assert [quarter_before(moment, schedule["timezone"]) for moment in handed] == [
        "2024Q4",
        "2025Q1",
        "2025Q2",
        "2025Q3",
    ]
    # read on the UTC calendar, as before, three of the four would name the wrong quarter
    assert [quarter_before(moment, "UTC") for moment in handed] == [
        "2024Q3",
        "2024Q4",
        "2025Q1",
        "2025Q2",
    ]


@pytest.mark.parametrize(
    ("moment", "timezone", "expected"),
    [
        # UTC midnight on 1 April: already 07:00 in Jakarta, Q1 ended
        (datetime(2024, 4, 1, 0, 0, tzinfo=UTC), "Asia/Jakarta", "2024Q1"),
        # one second before UTC midnight: 06:59:59 on 1 April in Jakarta
        (datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC), "Asia/Jakarta", "2024Q1"),
        # 16:59:59 UTC on 31 March is still 23:59:59 on 31 March in Jakarta
        (datetime(2024, 3, 31, 16, 59, 59, tzinfo=UTC), "Asia/Jakarta", "2023Q4"),
        (datetime(2024, 3, 31, 17, 0, 0, tzinfo=UTC), "Asia/Jakarta", "2024Q1"),
        # west of UTC the edge goes the other way: 1 Jan 02:00 UTC is 31 Dec in New York
        (datetime(2025, 1, 1, 2, 0, tzinfo=UTC), "America/New_York", "2024Q3"),
        (datetime(2025, 1, 1, 2, 0, tzinfo=UTC), "UTC", "2024Q4"),
        # no timezone given: the schedule's default, Asia/Jakarta
        (datetime(2024, 6, 30, 23, 0, tzinfo=UTC), None, "2024Q2"),
    ],
)
def test_quarter_is_read_on_the_schedule_calendar(moment, timezone, expected):
    assert quarter_before(moment, timezone) == expected


def test_an_unknown_timezone_is_refused_by_name():
    with pytest.raises(ThioError, match="'Mars/Olympus' is not an IANA timezone name"):
        quarter_before(datetime(2024, 4, 1, tzinfo=UTC), "Mars/Olympus")


def test_home_comes_from_the_parameter_then_thio_home(monkeypatch):
    monkeypatch.setenv("THIO_HOME", "/srv/thio")
    assert resolve_home("given") == "given"
    assert resolve_home(None) == "/srv/thio"
    monkeypatch.delenv("THIO_HOME")
    assert resolve_home(None) == "thio-data"
