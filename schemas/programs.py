"""pandera schema of the parsed ``programs`` sheet (mentoring programmes)."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.common import (
    DATE,
    RuleBook,
    SheetSchema,
    column,
    keyed_sheet,
    text,
    unique_key,
)
from thio.methodology import Methodology

SHEET = "programs"
KEY = ["program_id", "firm_id"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Required values, firm_id pattern (the firm need not be in this round), focus as
    components, end_date >= start_date, unique (program_id, firm_id)."""
    del methodology, round_id
    book = RuleBook()
    schema = pa.DataFrameSchema(
        {
            "program_id": text(nullable=False),
            "program_name": text(),
            "firm_id": text(
                nullable=False,
                checks=[book.firm_id()],
            ),
            "organisation": text(),
            "focus": text(nullable=False),
            "start_date": column(DATE, nullable=False),
            "end_date": column(DATE, nullable=False),
        },
        checks=[
            book.check(
                "end_after_start",
                lambda frame: (
                    (frame["end_date"] >= frame["start_date"])
                    | frame["end_date"].isna()
                    | frame["start_date"].isna()
                ),
                "dates",
                "{value} is before start_date {start_date}",
                column="end_date",
            ),
            unique_key(KEY),
        ],
    )
    return keyed_sheet(
        SHEET,
        schema,
        book,
        KEY,
        "firm {value} is listed more than once in program {program_id}{also}",
        "firm_id",
    )
