"""pandera schema of the parsed ``firms`` sheet (one row per firm in the round)."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.common import (
    DATE,
    INTEGER,
    KBLI_PATTERN,
    NUMBER,
    RuleBook,
    SheetSchema,
    column,
    keyed_sheet,
    text,
    unique_key,
    weight_within,
)
from thio.methodology import Methodology

SHEET = "firms"
KEY = ["firm_id"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Types, required values, firm_id pattern, the run's round, ranges, unique firm_id.

    ``sample_weight`` is all-or-none: once any firm of the round has one, every firm needs
    one (method.md section 9); a positive one must lie in ``weight_ranges.sample_weight``.
    """
    book = RuleBook()
    schema = pa.DataFrameSchema(
        {
            "round_id": text(
                nullable=False,
                checks=[
                    book.check(
                        "round_id",
                        lambda series: series == round_id,
                        "round_id",
                        f"{{value}} is not the round being read ({round_id})",
                    )
                ],
            ),
            "firm_id": text(
                nullable=False,
                checks=[book.firm_id()],
            ),
            "firm_name": text(nullable=False),
            "sector_code": text(
                nullable=False,
                checks=[
                    book.check(
                        "sector_code_pattern",
                        lambda series: series.str.fullmatch(KBLI_PATTERN),
                        "pattern",
                        "{value} is not a KBLI code (2 or 5 digits)",
                    )
                ],
            ),
            "sector_name": text(),
            "region_code": text(nullable=False),
            "region_name": text(),
            "size_class": text(),
            "workers": column(
                INTEGER,
                checks=[
                    book.check(
                        "workers_range", lambda series: series >= 0, "range", "{value} is below 0"
                    )
                ],
            ),
            "sample_weight": column(
                NUMBER,
                checks=[
                    book.check(
                        "sample_weight_range",
                        lambda series: series > 0,
                        "range",
                        "{value} is not greater than 0",
                    ),
                    weight_within(book, "sample_weight", methodology),
                ],
            ),
            "survey_date": column(DATE, nullable=False),
            "enumerator": text(),
        },
        checks=[
            book.check(
                "sample_weight_all_or_none",
                lambda frame: (
                    frame["sample_weight"].notna() | ~frame["sample_weight"].notna().any()
                ),
                "sample_weight",
                "a sample_weight is required: other firms of the round have one",
                column="sample_weight",
            ),
            unique_key(KEY),
        ],
    )
    return keyed_sheet(
        SHEET, schema, book, KEY, "firm {value} appears more than once{also}", "firm_id"
    )
