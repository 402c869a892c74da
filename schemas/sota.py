"""pandera schema of the parsed ``sota`` sheet (one row per item x criterion x rater)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schemas.common import (
    NUMBER,
    RuleBook,
    SheetSchema,
    column,
    fmt,
    keyed_sheet,
    text,
    unique_key,
    value_codes,
)
from thio.methodology import Methodology

SHEET = "sota"
# ``_rater`` is the rater with a blank read as the methodology's default rater: a blank
# rater and rater "1" are the same rater.
KEY = ["firm_id", "component", "item_id", "criterion", "_rater"]


def build_schema(methodology: Methodology, round_id: str) -> SheetSchema:
    """Required values, score within the SOTA scale, the criterion belongs to the row's
    component, unique (firm_id, component, item_id, criterion, rater)."""
    del round_id
    low, high = methodology.sota_min, methodology.sota_max
    position = {code: index for index, code in enumerate(methodology.component_codes)}
    owner_of = {
        criterion: position[component]
        for component, criteria in methodology.criteria().items()
        for criterion in criteria
    }
    book = RuleBook()

    def criterion_of_component(frame: pd.DataFrame) -> pd.Series:
        # looked up by the codes of the distinct values in a small table of the pairs: no
        # per-row string work on millions of rows
        criterion_codes, criteria = value_codes(frame["criterion"])
        component_codes, components = value_codes(frame["component"])
        owners = np.array([owner_of.get(name, -1) for name in criteria], dtype="int64")
        given = np.array([position.get(name, -2) for name in components], dtype="int64")
        table = np.ones((len(criteria) + 1, len(components) + 1), dtype=bool)  # +1: null
        table[:-1, :-1] = owners[:, None] == given[None, :]
        ok = table[criterion_codes, component_codes]  # code -1 (null) picks the last
        return pd.Series(ok, index=frame.index, copy=False)

    schema = pa.DataFrameSchema(
        {
            "firm_id": text(nullable=False),
            "component": text(nullable=False),
            "item_id": text(nullable=False),
            "criterion": text(nullable=False),
            "rater": text(),
            "score": column(
                NUMBER,
                nullable=False,
                checks=[
                    book.check(
                        "score_range",
                        lambda series: (series >= low) & (series <= high),
                        "range",
                        f"{{value}} is outside {fmt(low)}..{fmt(high)}",
                    )
                ],
            ),
            "_rater": text(nullable=False),
        },
        checks=[
            book.check(
                "criterion_component",
                criterion_of_component,
                "criterion",
                "{value} is not a criterion of component {component}",
                column="criterion",
            ),
            unique_key(KEY),
        ],
    )
    return keyed_sheet(
        SHEET,
        schema,
        book,
        KEY,
        "{value} of item {item_id} (firm {firm_id}) is scored more than once by rater "
        "{rater}{also}",
        "criterion",
    )
