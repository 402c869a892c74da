"""pandera schema of the parsed ``weights`` sheet (given contribution intensities)."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.common import (
    NUMBER,
    RuleBook,
    SheetSchema,
    column,
    keyed_sheet,
    scope_checks,
    text,
    unique_key,
)
from thio.methodology import Methodology

SHEET = "weights"
KEY = ["firm_id", "panel_id", "component"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Scope (firm_id or panel_id), component, 0 < beta < 1, unique (scope, component).

    That a scope's four betas sum to 1 is a rule over several rows: thio.validation.
    """
    del methodology, round_id
    book = RuleBook()
    schema = pa.DataFrameSchema(
        {
            "firm_id": text(),
            "panel_id": text(),
            "component": text(nullable=False),
            "beta": column(
                NUMBER,
                nullable=False,
                checks=[
                    book.check(
                        "beta_range",
                        lambda series: (series > 0) & (series < 1),
                        "range",
                        "{value} is not between 0 and 1 (both excluded)",
                    )
                ],
            ),
        },
        checks=[*scope_checks(book), unique_key(KEY)],
    )
    return keyed_sheet(
        SHEET, schema, book, KEY, "a beta for {value} is given more than once{also}", "component"
    )
