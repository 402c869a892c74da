"""pandera schema of the parsed ``ahp`` sheet (pairwise judgments)."""

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

SHEET = "ahp"
KEY = ["firm_id", "panel_id", "respondent", "row", "col"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Scope (firm_id or panel_id), respondent, row != col, the judgment on Saaty's scale
    (parsed to the exact scale value), unique (scope, respondent, row, col)."""
    del methodology, round_id
    book = RuleBook()
    schema = pa.DataFrameSchema(
        {
            "firm_id": text(),
            "panel_id": text(),
            "respondent": text(nullable=False),
            "row": text(nullable=False),
            "col": text(nullable=False),
            "value": column(NUMBER, nullable=False),
            "value_text": text(),
        },
        checks=[
            *scope_checks(book),
            book.check(
                "row_not_col",
                # compared as text: two categorical columns have categories of their own
                lambda frame: (
                    (frame["row"].astype("str") != frame["col"].astype("str"))
                    .fillna(True)
                    .astype(bool)
                ),
                "row_col",
                "{value} is the same component as row {row}",
                column="col",
            ),
            unique_key(KEY),
        ],
    )
    return keyed_sheet(
        SHEET,
        schema,
        book,
        KEY,
        "{row}:{col} is judged more than once by respondent {respondent}{also}",
        "value",
    )
