"""Options several ``thio`` commands share (thio.cli and thio.audit_commands)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from thio.runs import resolve_home


def home_option(help_text: str) -> Callable[[Callable], Callable]:
    """The ``--home`` option (the data home; $THIO_HOME or ./thio-data by default), with
    what the command keeps there as its help."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=resolve_home(None),
        show_default=True,
        help=help_text,
    )
