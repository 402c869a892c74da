"""What a run records about itself: ids, code version, library versions."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import thio

RECORDED_PACKAGES = ("prefect", "duckdb", "pandas", "pandera", "great-expectations", "fastexcel")
REPO_ROOT = Path(__file__).resolve().parent.parent


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def code_version() -> str:
    """thio's version, plus the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{thio.__version__}+g{commit}" if commit else thio.__version__


def package_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour shapes the results."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
