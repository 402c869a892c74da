"""What the per-sheet pandera schemas share: dtypes, the rule book, and running a schema.

Every check of a sheet schema is registered in a :class:`RuleBook` with its quarantine
rule code, the column the quarantine record names and the message tail, so that the rule,
its check and its message live in one place (the sheet's module). :func:`run_schema`
validates lazily and returns one failure per (row, check).

Message tails are templates: ``{value}`` is the original text of the named cell and
``{<column>}`` the original text of another cell of the same row; the validation step
prefixes "file, sheet S, row N, column C: ".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

TEXT = pd.StringDtype(na_value=np.nan)
INTEGER = "Int64"
NUMBER = "float64"
DATE = np.dtype("datetime64[s]")
FIRM_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
KBLI_PATTERN = r"^\d{2}(\d{3})?$"

REQUIRED_CHECK = "not_nullable"
UNIQUE_CHECKS = ("multiple_fields_uniqueness", "field_uniqueness")


@dataclass(frozen=True)
class Rule:
    """A quarantine rule: code, the column its record names (None: the failing column)."""

    code: str
    message: str
    column: str | None = None


REQUIRED = Rule("required", "a value is required")


@dataclass
class SheetSchema:
    """A sheet's pandera schema with the rule of each of its checks."""

    sheet: str
    schema: pa.DataFrameSchema
    rules: dict[str, Rule]
    key: list[str] = field(default_factory=list)
    key_rule: Rule | None = None


class RuleBook:
    """Collects the checks of one schema with their rules."""

    def __init__(self) -> None:
        self.rules: dict[str, Rule] = {}

    def check(
        self, name: str, function: Any, code: str, message: str, column: str | None = None
    ) -> pa.Check:
        """A vectorised check (Series -> bool Series, or DataFrame -> bool Series)."""
        if name in self.rules:
            raise ValueError(f"check {name} defined twice")
        self.rules[name] = Rule(code, message, column)
        return pa.Check(function, name=name)


def fmt(number: float) -> str:
    """A setting's number as people write it: 1.0 -> "1", 0.005 -> "0.005"."""
    return f"{number:g}"


def text(nullable: bool = True, checks: list[pa.Check] | None = None) -> pa.Column:
    return pa.Column(TEXT, nullable=nullable, checks=checks or [])


def column(dtype: Any, nullable: bool = True, checks: list[pa.Check] | None = None) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, checks=checks or [])


def run_schema(sheet_schema: SheetSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily; one row per (frame position, check) that failed.

    Columns: ``position`` (int, the frame's row position; the frame has a RangeIndex),
    ``column_name``, ``rule``, ``message`` (the template) and ``priority`` (column checks 1,
    row checks 2, key uniqueness 3: a cell keeps the first of its failures).
    """
    empty = pd.DataFrame(
        {
            "position": pd.Series(dtype="int64"),
            "column_name": pd.Series(dtype="str"),
            "rule": pd.Series(dtype="str"),
            "message": pd.Series(dtype="str"),
            "priority": pd.Series(dtype="int64"),
        }
    )
    try:
        sheet_schema.schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return empty
    if cases["index"].isna().any():
        broken = cases[cases["index"].isna()].iloc[0]
        raise RuntimeError(
            f"schema of sheet {sheet_schema.sheet}: {broken['check']} failed for column "
            f"{broken['column']} ({broken['failure_case']}); the parsed frame is not as expected"
        )
    cases = cases.drop_duplicates(["index", "check"])
    rows = []
    for (check, schema_context), group in cases.groupby(["check", "schema_context"], sort=False):
        positions = group["index"].to_numpy(dtype="int64")
        if check == REQUIRED_CHECK:
            for column_name, by_column in group.groupby("column"):
                rows.append(_failures(by_column["index"], column_name, REQUIRED, 1))
            continue
        if check in UNIQUE_CHECKS:
            rule = sheet_schema.key_rule
            assert rule is not None and rule.column is not None
            rows.append(_failures(positions, rule.column, rule, 3))
            continue
        rule = sheet_schema.rules.get(check)
        if rule is None:
            raise RuntimeError(f"schema of sheet {sheet_schema.sheet}: unregistered check {check}")
        if schema_context == "Column":
            for column_name, by_column in group.groupby("column"):
                rows.append(_failures(by_column["index"], rule.column or column_name, rule, 1))
        else:
            assert rule.column is not None, f"row check {check} must name its column"
            rows.append(_failures(positions, rule.column, rule, 2))
    return pd.concat([empty, *rows], ignore_index=True) if rows else empty


def _failures(positions: Any, column_name: str, rule: Rule, priority: int) -> pd.DataFrame:
    positions = np.asarray(positions, dtype="int64")
    return pd.DataFrame(
        {
            "position": positions,
            "column_name": pd.Series([column_name] * len(positions), dtype="str"),
            "rule": pd.Series([rule.code] * len(positions), dtype="str"),
            "message": pd.Series([rule.message] * len(positions), dtype="str"),
            "priority": np.full(len(positions), priority, dtype="int64"),
        }
    )


def scope_checks(book: RuleBook) -> list[pa.Check]:
    """ahp and weights: a row's scope is a firm (firm_id) or a sector panel (panel_id)."""
    return [
        book.check(
            "scope_both",
            lambda frame: ~(frame["firm_id"].notna() & frame["panel_id"].notna()),
            "scope",
            "firm_id {value} and panel_id {panel_id} are both given; give one of them",
            column="firm_id",
        ),
        book.check(
            "scope_none",
            lambda frame: frame["firm_id"].notna() | frame["panel_id"].notna(),
            "scope",
            "firm_id and panel_id are both empty; give one of them",
            column="firm_id",
        ),
    ]
