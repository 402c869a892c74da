"""pandera schema of the parsed ``items`` sheet (one row per assessed item)."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.common import (
    INTEGER,
    NUMBER,
    RuleBook,
    SheetSchema,
    column,
    fmt,
    keyed_sheet,
    text,
    unique_key,
    weight_within,
)
from thio.methodology import Methodology

SHEET = "items"
KEY = ["firm_id", "component", "item_id"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Required values, weight > 0 and within ``weight_ranges.item_weight``, ll and ul
    within the sophistication limits, ul >= ll, unique (firm_id, component, item_id)."""
    del round_id
    low, high = methodology.limit_min, methodology.limit_max
    book = RuleBook()

    def limits(name: str) -> pa.Check:
        return book.check(
            f"{name}_range",
            lambda series: (series >= low) & (series <= high),
            "range",
            f"{{value}} is outside {fmt(low)}..{fmt(high)}",
        )

    schema = pa.DataFrameSchema(
        {
            "firm_id": text(nullable=False),
            "component": text(nullable=False),
            "item_id": text(nullable=False),
            "item_name": text(),
            "weight": column(
                NUMBER,
                checks=[
                    book.check(
                        "weight_range",
                        lambda series: series > 0,
                        "range",
                        "{value} is not greater than 0",
                    ),
                    weight_within(book, "item_weight", methodology),
                ],
            ),
            "ll": column(INTEGER, nullable=False, checks=[limits("ll")]),
            "ul": column(INTEGER, nullable=False, checks=[limits("ul")]),
        },
        checks=[
            book.check(
                "ll_le_ul",
                lambda frame: (frame["ul"] >= frame["ll"]).fillna(True).astype(bool),
                "ll_ul",
                "{value} is below ll {ll}",
                column="ul",
            ),
            unique_key(KEY),
        ],
    )
    return keyed_sheet(
        SHEET,
        schema,
        book,
        KEY,
        "item {value} of firm {firm_id}, component {component} appears more than once{also}",
        "item_id",
    )
