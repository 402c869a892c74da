"""pandera schema of the parsed ``sota`` sheet (one row per item x criterion x rater)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schemas.common import NUMBER, Rule, RuleBook, SheetSchema, column, fmt, text
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
        # compared as small integers: no per-row string work on millions of rows
        criterion_codes, criteria = pd.factorize(frame["criterion"])
        component_codes, components = pd.factorize(frame["component"])
        owners = pd.Series(criteria, dtype=object).map(owner_of).fillna(-1).to_numpy("int64")
        given = pd.Series(components, dtype=object).map(position).fillna(-2).to_numpy("int64")
        owner = np.append(owners, -1)[criterion_codes]
        component = np.append(given, -2)[component_codes]
        ok = (owner == component) | (criterion_codes < 0) | (component_codes < 0)
        return pd.Series(ok, index=frame.index)

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
            )
        ],
        unique=KEY,
        report_duplicates="all",
    )
    return SheetSchema(
        SHEET,
        schema,
        book.rules,
        key=KEY,
        key_rule=Rule(
            "duplicate_key",
            "{value} of item {item_id} (firm {firm_id}) is scored more than once by rater "
            "{rater}{also}",
            "criterion",
        ),
    )
