"""Shared fixtures: paths to the spec's examples and one Prefect test server per session."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# Every test process gets a Prefect home of its own, set before anything imports Prefect:
# the tests never read the developer's profiles nor write into ~/.prefect (its database,
# persisted flow results).
_PREFECT_HOME = tempfile.mkdtemp(prefix="thio-tests-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
for _name in [name for name in os.environ if name.startswith("PREFECT_")]:
    del os.environ[_name]
os.environ["PREFECT_HOME"] = _PREFECT_HOME

# Hypothesis profiles: ``make test`` runs few examples in a fixed order (the same examples on
# every machine, so a red CI is reproducible); ``make test-all`` sets THIO_HYPOTHESIS_PROFILE
# to "thorough": many more, freshly drawn. No example database: it would be a folder in the
# working tree; a failure prints its example and the blob that replays it (@reproduce_failure).
HYPOTHESIS_PROFILES = {"quick": 20, "thorough": 400}
for _profile, _examples in HYPOTHESIS_PROFILES.items():
    settings.register_profile(
        _profile,
        max_examples=_examples,
        deadline=None,
        database=None,
        derandomize=_profile == "quick",
        print_blob=True,
    )
settings.load_profile(os.environ.get("THIO_HYPOTHESIS_PROFILE", "quick"))

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
