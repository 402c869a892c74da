"""Shared fixtures: paths to the spec's examples and one Prefect test server per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WORKED_EXAMPLE = SHARED / "examples" / "worked_example"


@pytest.fixture(scope="session")
def worked_example() -> Path:
    """The spec's worked example round (xlsx, csv/ and expected.json)."""
    if not WORKED_EXAMPLE.exists():
        raise RuntimeError(f"shared/ is expected beside the repository at {SHARED}")
    return WORKED_EXAMPLE


@pytest.fixture(scope="session")
def expected(worked_example: Path) -> dict:
    """expected.json of the worked example."""
    return json.loads((worked_example / "expected.json").read_text())


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect server for every flow test of the session."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
