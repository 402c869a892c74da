"""Validation: parse the raw frames, run the sheet schemas and the cross-sheet rules.

Every raw row ends up either in ``accepted/<sheet>.parquet`` or in ``quarantine.parquet``
(one record per bad cell, or per row for the rules about whole rows; a row counts once).
Each rule is checked in one place:

* type rules (a number, a whole number, a date, a component, a Saaty judgment, a focus
  list, a size class): :mod:`thio.parse`, while building the typed frame;
* rules within a row or a sheet (required values, patterns, ranges, ``ul >= ll``, the
  criterion belongs to the component, ``row != col``, dates in order, the scope of ahp and
  weights rows, ``sample_weight`` all-or-none, unique keys incl. a firm in two files): the
  pandera schemas in ``schemas/<sheet>.py``, validated lazily;
* rules across rows and sheets: here, in this order, each applied to rows not yet
  quarantined --

  1. ``unknown_firm``: an items/sota/ahp/weights row names a firm_id not in the firms sheet;
  2. sota -> items: ``unknown_item`` (no such items row), ``item_excluded`` (its items row is
     quarantined);
  3. ``missing_criterion``: an item lacks a valid score for a criterion of its component
     (from every rater) -> the item is quarantined, and its sota rows (``item_excluded``);
  4. ``missing_component``: a firm without a valid item in a component is excluded (the
     record is on its firms row);
  5. ``firm_excluded``: every other row of an excluded firm (firms row quarantined, a
     duplicate, or ``missing_component``) in items, sota, firm-scope ahp and weights;
  6. ``unknown_panel``: an ahp/weights panel_id that is not the sector_code of an accepted
     firm;
  7. ahp: ``reciprocal`` (an upper- and lower-triangle judgment of one pair that are not
     reciprocal within ``ahp.reciprocal_tolerance``: both rows), then ``incomplete_ahp``
     (a respondent of a scope without a valid judgment for each of the six pairs: all the
     respondent's rows);
  8. weights: ``incomplete_weights`` (a scope without the four components) and
     ``weights_sum`` (four betas not summing to 1 within ``given_weights_tolerance``): all
     the scope's rows.

The AHP consistency ratio is not a validation rule: an inconsistent respondent's
judgments are accepted and handled by the compute step.

The round's quarantine share is the share of firms with a quarantined row (in firms,
items, sota, firm-scope ahp or weights) or excluded, among the firm ids read (the firms
sheet's, plus the unknown firm ids other sheets name); the round is blocked when it is
above ``quarantine_threshold``, or when no firm is accepted. Panel-scope ahp/weights and
programs rows do not belong to a firm of the round and do not count in the share.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import ahp as ahp_schema
from schemas import firms as firms_schema
from schemas import items as items_schema
from schemas import programs as programs_schema
from schemas import sota as sota_schema
from schemas import weights as weights_schema
from schemas.common import SheetSchema, fmt, run_schema
from thio.contract import PROVENANCE_COLUMNS, SHEETS, Sheet, landing_columns
from thio.methodology import Methodology
from thio.parse import PARSERS

SCHEMA_BUILDERS = {
    "firms": firms_schema.build_schema,
    "items": items_schema.build_schema,
    "sota": sota_schema.build_schema,
    "ahp": ahp_schema.build_schema,
    "weights": weights_schema.build_schema,
    "programs": programs_schema.build_schema,
}
# Contract "text" columns that are parsed all the same.
KIND_OVERRIDES = {("programs", "focus"): "focus", ("firms", "size_class"): "size_class"}
# Rules checked here (not in the schemas), per sheet: for the checks list of validation.json.
CROSS_SHEET_RULES = {
    "firms": ["missing_component"],
    "items": ["unknown_firm", "missing_criterion", "firm_excluded"],
    "sota": ["unknown_firm", "unknown_item", "item_excluded", "firm_excluded"],
    "ahp": ["unknown_firm", "firm_excluded", "unknown_panel", "reciprocal", "incomplete_ahp"],
    "weights": [
        "unknown_firm",
        "firm_excluded",
        "unknown_panel",
        "incomplete_weights",
        "weights_sum",
    ],
    "programs": [],
}
QUARANTINE_COLUMNS = [
    "_file",
    "_file_sha256",
    "_sheet",
    "_row",
    "sheet",
    "column_name",
    "value",
    "rule",
    "message",
    "firm_id",
]
MESSAGES_LISTED = 1000
PLACES_LISTED = 3
BLANK = "(blank)"
_ARROW_TYPES = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
}


@dataclass
class _Sheet:
    """One sheet during validation: raw text, typed values, the quarantined rows."""

    sheet: Sheet
    raw: pd.DataFrame
    parsed: pd.DataFrame = field(default_factory=pd.DataFrame)
    bad: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    records: list[pd.DataFrame] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.sheet.name

    @property
    def good(self) -> np.ndarray:
        return ~self.bad

    def __len__(self) -> int:
        return len(self.raw)

    def quarantine(
        self,
        mask: np.ndarray,
        column: str,
        rule: str,
        message: str | np.ndarray,
        extra: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Quarantine the rows of ``mask`` (bool array, or positions) with one record each.

        ``message`` is a template (see schemas.common) or the rendered tails, one per row.
        """
        positions = np.flatnonzero(mask) if mask.dtype == bool else np.asarray(mask, "int64")
        if positions.size == 0:
            return
        if isinstance(message, str):
            tails = _render(message, self.raw, positions, column, extra or {})
        else:
            tails = np.asarray(message, dtype=object)
        self.records.append(
            pd.DataFrame(
                {
                    "position": positions,
                    "column_name": column,
                    "rule": rule,
                    "tail": tails,
                }
            )
        )
        self.bad[positions] = True


def validate_round(work_dir: Path, round_id: str, methodology: Methodology) -> dict[str, Any]:
    """Validate ``work_dir/raw/*.parquet``; write accepted frames, quarantine, validation.json.

    Returns the ``validation.json`` content::

        {"round_id": "2023Q1",
         "files": [{"file_name": "c01.xlsx", "file_sha256": "...", "sheet": "items",
                    "rows_read": 15, "rows_accepted": 14, "rows_quarantined": 1}],
         "sheets": {"firms": {"rows_read": 3, "rows_accepted": 3, "rows_quarantined": 0}, ...},
         "rules": {"range": 1, ...},            # quarantine records per rule
         "checks": [{"suite": "items", "check_name": "range", "success": false,
                     "unexpected_count": 1}, ...],
         "n_firms_read": 3, "n_unknown_firm_ids": 0, "n_firms_accepted": 3,
         "n_firms_excluded": 0, "n_firms_with_problems": 1,
         "quarantine_share": 0.3333, "quarantine_threshold": 0.05,
         "blocked": true, "blocked_reason": "..." | null,
         "excluded_firms": [{"firm_id": "F002", "reason": "..."}],   # at most 1000 listed
         "n_quarantine_records": 1, "reconciled": true,
         "messages": ["<file>, sheet items, row 7, column ul: 12 is outside 1..9", ...],
         "messages_not_listed": 0}
    """
    work_dir = Path(work_dir)
    sheets = {name: _Sheet(sheet, _read_raw(work_dir, sheet)) for name, sheet in SHEETS.items()}
    for state in sheets.values():
        _validate_rows(state, methodology, round_id)
    known_firms, excluded = _check_firm_data(sheets, methodology)
    accepted_sectors = pd.Index(
        sheets["firms"].parsed["sector_code"][sheets["firms"].good].dropna().unique()
    )
    for name in ("ahp", "weights"):
        _check_scope(sheets[name], known_firms, excluded, accepted_sectors)
    _check_ahp(sheets["ahp"], methodology)
    _check_weights(sheets["weights"], methodology)

    (work_dir / "accepted").mkdir(parents=True, exist_ok=True)
    for state in sheets.values():
        _write_accepted(state, work_dir / "accepted" / f"{state.name}.parquet")
    quarantine = _quarantine_frame(sheets)
    pq.write_table(
        pa.Table.from_pandas(quarantine, schema=_quarantine_schema(), preserve_index=False),
        work_dir / "quarantine.parquet",
    )
    result = _summary(sheets, quarantine, known_firms, excluded, round_id, methodology)
    (work_dir / "validation.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return result


# ---------------------------------------------------------------- reading and row rules


def _read_raw(work_dir: Path, sheet: Sheet) -> pd.DataFrame:
    path = work_dir / "raw" / f"{sheet.name}.parquet"
    columns = [*sheet.column_names, *PROVENANCE_COLUMNS]
    frame = pq.read_table(path).to_pandas() if path.exists() else pd.DataFrame(columns=columns)
    for name in columns:
        if name not in frame.columns:
            frame[name] = pd.Series([None] * len(frame), dtype="str")
    frame = frame[columns].reset_index(drop=True)
    for name in columns:
        if name != "_row":
            frame[name] = frame[name].astype("str")
    frame["_row"] = frame["_row"].astype("int64")
    return frame


def _validate_rows(state: _Sheet, methodology: Methodology, round_id: str) -> None:
    """Parse every column (type rules), then run the sheet's pandera schema."""
    state.bad = np.zeros(len(state), dtype=bool)
    parsed, failures = _parse_sheet(state, methodology)
    state.parsed = parsed
    schema: SheetSchema = SCHEMA_BUILDERS[state.name](methodology, round_id)
    found = pd.concat([failures, run_schema(schema, parsed)], ignore_index=True)
    if found.empty:
        return
    key_rule = schema.key_rule
    also = pd.Series(dtype=object)
    if key_rule is not None:
        is_key = (found["rule"] == key_rule.code) & (found["message"] == key_rule.message)
        duplicates = np.unique(found.loc[is_key, "position"].to_numpy(dtype="int64"))
        if duplicates.size:
            also = pd.Series(_other_places(state, schema.key, duplicates), index=duplicates)
    # one record per cell: the first failure by priority (type, column check, row, key)
    found = found.sort_values(["priority"], kind="stable").drop_duplicates(
        ["position", "column_name"]
    )
    for (column, rule, message), group in found.groupby(
        ["column_name", "rule", "message"], sort=False
    ):
        positions = group["position"].to_numpy(dtype="int64")
        extra = {}
        if key_rule is not None and rule == key_rule.code and message == key_rule.message:
            extra["also"] = also.reindex(positions).to_numpy(dtype=object)
        state.quarantine(positions, column, rule, message, extra)


def _parse_sheet(state: _Sheet, methodology: Methodology) -> tuple[pd.DataFrame, pd.DataFrame]:
    aliases = methodology.component_aliases()
    ahp_settings = methodology.settings.get("ahp", {})
    columns: dict[str, pd.Series] = {}
    failures = []
    for column in state.sheet.columns:
        kind = KIND_OVERRIDES.get((state.name, column.name), column.kind)
        parser = PARSERS[kind]
        values = state.raw[column.name]
        if kind == "component":
            result = parser.function(values, aliases)
        elif kind == "judgment":
            tolerance = float(ahp_settings.get("judgment_tolerance", 0.01))
            result = parser.function(values, methodology.saaty_values(), tolerance)
        elif kind == "focus":
            result = parser.function(values, aliases, methodology.component_codes)
        else:
            result = parser.function(values)
        columns[column.name] = result.values.reset_index(drop=True)
        if result.invalid.any():
            positions = np.flatnonzero(result.invalid)
            failures.append(
                pd.DataFrame(
                    {
                        "position": positions,
                        "column_name": column.name,
                        "rule": parser.rule,
                        "message": "{value} " + parser.message,
                        "priority": 0,
                    }
                )
            )
    parsed = pd.DataFrame(columns, index=pd.RangeIndex(len(state)))
    if state.name == "ahp":
        parsed["value_text"] = state.raw["value"]
    if state.name == "sota":
        default_rater = str(methodology.settings.get("default_rater", "1"))
        parsed["_rater"] = parsed["rater"].fillna(default_rater).astype("str")
    empty = pd.DataFrame(columns=["position", "column_name", "rule", "message", "priority"])
    return parsed, pd.concat([empty, *failures], ignore_index=True) if failures else empty


def _other_places(state: _Sheet, key: list[str], positions: np.ndarray) -> np.ndarray:
    """For rows sharing a key: " (also <file>, sheet <s>, row <n>; ...)" naming the others."""
    keys = state.parsed.loc[positions, key]
    group = keys.groupby(key, dropna=False, sort=False).ngroup().to_numpy()
    raw = state.raw
    places = (
        _cells(raw["_file"], positions)
        + ", sheet "
        + _cells(raw["_sheet"], positions)
        + ", row "
        + raw["_row"].iloc[positions].astype(str).to_numpy(dtype=object)
    )
    members: dict[int, list[int]] = {}
    for index, code in enumerate(group):
        members.setdefault(int(code), []).append(index)
    also = np.empty(len(positions), dtype=object)
    for index, code in enumerate(group):
        group_members = members[int(code)]
        others = [places[o] for o in group_members[: PLACES_LISTED + 1] if o != index]
        others = others[:PLACES_LISTED]
        more = len(group_members) - 1 - len(others)
        if not others:
            also[index] = ""
            continue
        listed = "; ".join(others)
        also[index] = f" (also {listed}{f' and {more} more' if more > 0 else ''})"
    return also


# ---------------------------------------------------------------- firms, items, sota


def _check_firm_data(
    sheets: dict[str, _Sheet], methodology: Methodology
) -> tuple[pd.Index, dict[str, str]]:
    """Rules 1-5 of the module docstring. Returns (firm ids read, excluded firm -> reason)."""
    firms, items, sota = sheets["firms"], sheets["items"], sheets["sota"]
    known_firms = pd.Index(firms.parsed["firm_id"].dropna().unique())

    # 1. unknown firms
    for state in (items, sota):
        firm_ids = state.parsed["firm_id"]
        unknown = state.good & firm_ids.notna().to_numpy() & ~_isin(firm_ids, known_firms)
        state.quarantine(unknown, "firm_id", "unknown_firm", "{value} is not in the firms sheet")

    # 2. sota -> items
    item_key, sota_key = _joint_codes(
        [items.parsed, sota.parsed], ["firm_id", "component", "item_id"]
    )
    n_keys = int(max(item_key.max(initial=-1), sota_key.max(initial=-1))) + 1
    item_exists = _flags(n_keys, item_key)
    item_valid = _flags(n_keys, item_key[items.good])
    candidates = sota.good
    sota.quarantine(
        candidates & ~item_exists[sota_key],
        "item_id",
        "unknown_item",
        "item {value} of firm {firm_id}, component {component} is not in the items sheet",
    )
    sota.quarantine(
        sota.good & ~item_valid[sota_key],
        "item_id",
        "item_excluded",
        "item {value} of firm {firm_id} is quarantined in the items sheet",
    )

    # 3. every criterion of the item's component scored by at least one rater
    criteria = methodology.criteria()
    criterion_codes, criterion_names = pd.factorize(sota.parsed["criterion"])
    n_criteria = max(len(criterion_names), 1)
    scored = sota.good & (criterion_codes >= 0)
    pairs = pd.unique(sota_key[scored].astype("int64") * n_criteria + criterion_codes[scored])
    n_scored = np.bincount(pairs // n_criteria, minlength=n_keys)
    component_codes, component_names = pd.factorize(items.parsed["component"])
    sizes = [len(criteria.get(name, [])) for name in component_names]
    expected = np.append(np.asarray(sizes, dtype="int64"), 0)[component_codes]
    incomplete = items.good & (n_scored[item_key] < expected)
    if incomplete.any():
        positions = np.flatnonzero(incomplete)
        present: dict[int, set[str]] = {}
        wanted = _flags(n_keys, item_key[positions])
        for pair in pairs[wanted[pairs // n_criteria]]:
            present.setdefault(int(pair // n_criteria), set()).add(
                criterion_names[int(pair % n_criteria)]
            )
        components = _cells(items.parsed["component"], positions)
        missing = [
            ", ".join(
                code
                for code in criteria[component]
                if code not in present.get(int(item_key[position]), set())
            )
            for position, component in zip(positions, components, strict=True)
        ]
        items.quarantine(
            positions,
            "item_id",
            "missing_criterion",
            "item {value} of firm {firm_id} has no valid score for {missing}; "
            "the item is quarantined",
            {"missing": np.asarray(missing, dtype=object)},
        )
        item_valid = _flags(n_keys, item_key[items.good])
        sota.quarantine(
            sota.good & ~item_valid[sota_key],
            "item_id",
            "item_excluded",
            "item {value} of firm {firm_id} is quarantined: it lacks a valid score for a criterion",
        )

    # 4. every component of a valid firm has a valid item
    codes = methodology.component_codes
    firm_code, item_firm_code = _joint_codes([firms.parsed, items.parsed], ["firm_id"])
    component_index = {code: index for index, code in enumerate(codes)}
    item_component = items.parsed["component"].map(component_index).fillna(-1).to_numpy("int64")
    n_firm_codes = int(max(firm_code.max(initial=-1), item_firm_code.max(initial=-1))) + 1
    covered = np.zeros((n_firm_codes, len(codes)), dtype=bool)
    valid_items = items.good & (item_component >= 0)
    covered[item_firm_code[valid_items], item_component[valid_items]] = True
    lacking = firms.good & ~covered[firm_code].all(axis=1)
    reasons: dict[str, str] = {}
    if lacking.any():
        positions = np.flatnonzero(lacking)
        missing = [
            ", ".join(code for index, code in enumerate(codes) if not row[index])
            for row in covered[firm_code[positions]]
        ]
        firm_ids = _cells(firms.parsed["firm_id"], positions)
        for firm_id, lacks in zip(firm_ids, missing, strict=True):
            reasons[firm_id] = f"it has no valid item for component {lacks}"
        firms.quarantine(
            positions,
            "firm_id",
            "missing_component",
            "firm {value} has no valid item for component {missing}; the firm is excluded",
            {"missing": np.asarray(missing, dtype=object)},
        )

    # 5. the other rows of excluded firms
    valid_firms = set(firms.parsed["firm_id"][firms.good].dropna())
    excluded = {firm_id: "" for firm_id in known_firms if firm_id not in valid_firms}
    for record in firms.records:
        firm_ids = _cells(firms.parsed["firm_id"], record["position"].to_numpy())
        for firm_id, rule, column, tail in zip(
            firm_ids, record["rule"], record["column_name"], record["tail"], strict=True
        ):
            if firm_id not in excluded or excluded[firm_id]:
                continue
            if rule == "missing_component":
                excluded[firm_id] = reasons[firm_id]
            elif rule == "duplicate_key":
                excluded[firm_id] = "it appears more than once in the firms sheet"
            else:
                excluded[firm_id] = f"its firms row is quarantined ({column}: {tail})"
    _cascade_excluded((items, sota), excluded)
    return known_firms, excluded


def _cascade_excluded(states: tuple[_Sheet, ...], excluded: dict[str, str]) -> None:
    if not excluded:
        return
    reasons = pd.Series(excluded, dtype="str")
    for state in states:
        firm_ids = state.parsed["firm_id"]
        mask = state.good & _isin(firm_ids, reasons.index)
        if not mask.any():
            continue
        why = reasons.reindex(firm_ids[mask]).to_numpy(dtype=object)
        state.quarantine(
            mask,
            "firm_id",
            "firm_excluded",
            "firm {value} is excluded from the round: {why}",
            {"why": why},
        )


# ---------------------------------------------------------------- ahp and weights


def _check_scope(
    state: _Sheet, known_firms: pd.Index, excluded: dict[str, str], sectors: pd.Index
) -> None:
    """unknown_firm, firm_excluded, unknown_panel for the rows of an ahp/weights sheet."""
    firm_ids = state.parsed["firm_id"]
    has_firm = firm_ids.notna().to_numpy()
    state.quarantine(
        state.good & has_firm & ~_isin(firm_ids, known_firms),
        "firm_id",
        "unknown_firm",
        "{value} is not in the firms sheet",
    )
    _cascade_excluded((state,), excluded)
    panels = state.parsed["panel_id"]
    state.quarantine(
        state.good & panels.notna().to_numpy() & ~_isin(panels, sectors),
        "panel_id",
        "unknown_panel",
        "{value} is not the sector_code of an accepted firm",
    )


def _scope_names(parsed: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    firm_ids = _cells(parsed["firm_id"], positions)
    panels = _cells(parsed["panel_id"], positions)
    return np.array(
        [
            f"firm {firm}" if isinstance(firm, str) else f"panel {panel}"
            for firm, panel in zip(firm_ids, panels, strict=True)
        ],
        dtype=object,
    )


def _check_ahp(state: _Sheet, methodology: Methodology) -> None:
    """Reversed duplicates reciprocal; each (scope, respondent) judges every pair."""
    if not state.good.any():
        return
    codes = methodology.component_codes
    rank = {code: index for index, code in enumerate(codes)}
    n = len(codes)
    tolerance = float(methodology.settings.get("ahp", {}).get("reciprocal_tolerance", 0.01))
    parsed = state.parsed
    (group,) = _joint_codes([parsed], ["firm_id", "panel_id", "respondent"])
    row_rank = parsed["row"].map(rank).fillna(-1).to_numpy("int64")
    col_rank = parsed["col"].map(rank).fillna(-1).to_numpy("int64")
    low, high = np.minimum(row_rank, col_rank), np.maximum(row_rank, col_rank)
    pair = low * n + high
    upper = row_rank < col_rank
    values = parsed["value"].to_numpy(dtype="float64")

    # reciprocal: an upper and a lower judgment of one pair
    good = state.good
    frame = pd.DataFrame(
        {"group": group, "pair": pair, "value": values, "position": np.arange(len(state))}
    )
    ups = frame[good & upper]
    downs = frame[good & ~upper]
    both = ups.merge(downs, on=["group", "pair"], suffixes=("_up", "_down"))
    if not both.empty:
        product = both["value_up"] * both["value_down"]
        conflict = both[(product - 1).abs() > tolerance]
        if not conflict.empty:
            for mine, other in (("up", "down"), ("down", "up")):
                positions = conflict[f"position_{mine}"].to_numpy("int64")
                others = conflict[f"position_{other}"].to_numpy("int64")
                state.quarantine(
                    positions,
                    "value",
                    "reciprocal",
                    "{row}:{col} {value} and {other_pair} {other} are not reciprocal "
                    f"(within {fmt(tolerance * 100)} %)",
                    {
                        "other_pair": _cells(parsed["row"], others)
                        + ":"
                        + _cells(parsed["col"], others),
                        "other": _blank(_cells(state.raw["value"], others)),
                    },
                )

    # every pair judged
    good = state.good
    n_pairs = n * (n - 1) // 2
    valid = good & (row_rank >= 0) & (col_rank >= 0) & (row_rank != col_rank)
    n_groups = int(group.max(initial=-1)) + 1
    unique_pairs = pd.unique(group[valid].astype("int64") * n * n + pair[valid])
    judged = np.bincount(unique_pairs // (n * n), minlength=n_groups)
    incomplete = good & (judged[group] < n_pairs)
    if not incomplete.any():
        return
    present: dict[int, set[int]] = {}
    for value in unique_pairs:
        present.setdefault(int(value // (n * n)), set()).add(int(value % (n * n)))
    all_pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    positions = np.flatnonzero(incomplete)
    missing = np.array(
        [
            ", ".join(
                f"{codes[i]}:{codes[j]}"
                for i, j in all_pairs
                if i * n + j not in present.get(int(group[position]), set())
            )
            for position in positions
        ],
        dtype=object,
    )
    state.quarantine(
        positions,
        "respondent",
        "incomplete_ahp",
        "respondent {value} of {scope} gives no valid judgment for {missing}; "
        "the respondent's judgments are set aside",
        {"scope": _scope_names(parsed, positions), "missing": missing},
    )


def _check_weights(state: _Sheet, methodology: Methodology) -> None:
    """A scope's betas: all four components, summing to 1 within the tolerance."""
    if not state.good.any():
        return
    codes = methodology.component_codes
    tolerance = float(methodology.settings.get("given_weights_tolerance", 0.005))
    parsed = state.parsed
    (group,) = _joint_codes([parsed], ["firm_id", "panel_id"])
    good = state.good
    n_groups = int(group.max(initial=-1)) + 1
    n_given = np.bincount(group[good], minlength=n_groups)  # components are unique per scope
    total = np.bincount(
        group[good], weights=parsed["beta"].to_numpy(dtype="float64")[good], minlength=n_groups
    )
    short = good & (n_given[group] < len(codes))
    if short.any():
        positions = np.flatnonzero(short)
        components = _cells(parsed["component"], positions)
        given_by_group: dict[int, set[str]] = {}
        for position, component in zip(positions, components, strict=True):
            given_by_group.setdefault(int(group[position]), set()).add(component)
        given = np.array(
            [
                ", ".join(code for code in codes if code in given_by_group[int(group[position])])
                for position in positions
            ],
            dtype=object,
        )
        state.quarantine(
            positions,
            "component",
            "incomplete_weights",
            "{scope} gives betas for {given} only; all four components are needed",
            {"scope": _scope_names(parsed, positions), "given": given},
        )
    off = state.good & (np.abs(total[group] - 1) > tolerance)
    if off.any():
        positions = np.flatnonzero(off)
        sums = np.array([f"{value:.6g}" for value in total[group[positions]]], dtype=object)
        state.quarantine(
            positions,
            "beta",
            "weights_sum",
            f"the betas of {{scope}} sum to {{total}}, not 1 within {fmt(tolerance)}",
            {"scope": _scope_names(parsed, positions), "total": sums},
        )


# ---------------------------------------------------------------- outputs


def _accepted_schema(sheet: Sheet) -> pa.Schema:
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in landing_columns(sheet)])


def _write_accepted(state: _Sheet, path: Path) -> None:
    schema = _accepted_schema(state.sheet)
    frame = pd.DataFrame(
        {
            name: (state.raw if name in PROVENANCE_COLUMNS else state.parsed)[name]
            for name in schema.names
        }
    )
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    if state.bad.any():
        table = table.filter(pa.array(state.good))  # Arrow's filter: no per-row Python
    pq.write_table(table, path)


def _quarantine_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, pa.int64() if name == "_row" else pa.string())
            for name in QUARANTINE_COLUMNS
        ]
    )


def _quarantine_frame(sheets: dict[str, _Sheet]) -> pd.DataFrame:
    parts = []
    order = {name: index for index, name in enumerate(SHEETS)}
    for state in sheets.values():
        if not state.records:
            continue
        records = pd.concat(state.records, ignore_index=True)
        positions = records["position"].to_numpy("int64")
        raw = state.raw
        part = pd.DataFrame(
            {name: raw[name].iloc[positions].to_numpy() for name in PROVENANCE_COLUMNS}
        )
        part["sheet"] = state.name
        part["column_name"] = records["column_name"].to_numpy(dtype=object)
        values = np.empty(len(records), dtype=object)
        for column, group in records.groupby("column_name", sort=False):
            values[group.index] = _cells(raw[column], positions[group.index])
        part["value"] = pd.Series(values, dtype="str")
        part["rule"] = records["rule"].to_numpy(dtype=object)
        part["message"] = (
            part["_file"].astype(object)
            + ", sheet "
            + part["_sheet"].astype(object)
            + ", row "
            + part["_row"].astype(str).astype(object)
            + ", column "
            + part["column_name"].astype(object)
            + ": "
            + records["tail"].to_numpy(dtype=object)
        )
        part["firm_id"] = raw["firm_id"].iloc[positions].to_numpy()
        part["_order"] = order[state.name]
        part["_position"] = positions
        parts.append(part)
    if not parts:
        return pd.DataFrame({name: pd.Series(dtype="str") for name in QUARANTINE_COLUMNS}).astype(
            {"_row": "int64"}
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["_order", "_position"], kind="stable")
    frame = frame[QUARANTINE_COLUMNS].reset_index(drop=True)
    for name in QUARANTINE_COLUMNS:
        if name != "_row":
            frame[name] = frame[name].astype("str")
    frame["_row"] = frame["_row"].astype("int64")
    return frame


def _summary(
    sheets: dict[str, _Sheet],
    quarantine: pd.DataFrame,
    known_firms: pd.Index,
    excluded: dict[str, str],
    round_id: str,
    methodology: Methodology,
) -> dict[str, Any]:
    files = []
    sheet_counts = {}
    reconciled = True
    for state in sheets.values():
        codes, shas = pd.factorize(state.raw["_file_sha256"])
        if len(shas):
            first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
            names = _cells(state.raw["_file"], first)
            size = np.bincount(codes, minlength=len(shas))
            bad = np.bincount(codes, weights=state.bad, minlength=len(shas)).astype("int64")
            for index, sha256 in enumerate(shas):
                files.append(
                    {
                        "file_name": names[index],
                        "file_sha256": sha256,
                        "sheet": state.name,
                        "rows_read": int(size[index]),
                        "rows_accepted": int(size[index] - bad[index]),
                        "rows_quarantined": int(bad[index]),
                    }
                )
        n_bad = int(state.bad.sum())
        sheet_counts[state.name] = {
            "rows_read": len(state),
            "rows_accepted": len(state) - n_bad,
            "rows_quarantined": n_bad,
        }
        in_quarantine = quarantine[quarantine["sheet"] == state.name]
        distinct = len(in_quarantine.drop_duplicates(["_file_sha256", "_row"]))
        reconciled &= distinct == n_bad

    rules = quarantine["rule"].value_counts().to_dict()
    checks = []
    for state in sheets.values():
        schema = SCHEMA_BUILDERS[state.name](methodology, round_id)
        names = ["type", "required", *[rule.code for rule in schema.rules.values()]]
        if state.name == "ahp":
            names.insert(1, "saaty_scale")
        if schema.key_rule is not None:
            names.append(schema.key_rule.code)
        names += CROSS_SHEET_RULES[state.name]
        counts = quarantine.loc[quarantine["sheet"] == state.name, "rule"].value_counts()
        for name in dict.fromkeys(names):
            count = int(counts.get(name, 0))
            checks.append(
                {
                    "suite": state.name,
                    "check_name": name,
                    "success": count == 0,
                    "unexpected_count": count,
                }
            )

    firm_rows = quarantine[
        quarantine["sheet"].isin(["firms", "items", "sota", "ahp", "weights"])
        & quarantine["firm_id"].notna()
    ]
    problem_ids = set(firm_rows["firm_id"].unique())
    unknown_ids = problem_ids - set(known_firms)
    n_read = len(known_firms)
    denominator = n_read + len(unknown_ids)
    n_problems = len(problem_ids | set(excluded))
    share = n_problems / denominator if denominator else 0.0
    threshold = methodology.quarantine_threshold
    n_accepted = int(sheets["firms"].good.sum())
    blocked_reason = None
    if n_accepted == 0:
        blocked_reason = f"round {round_id}: no firm was accepted"
    elif share > threshold:
        blocked_reason = (
            f"round {round_id}: {n_problems} of {denominator} firms ({share:.1%}) have "
            f"quarantined rows or are excluded, above the threshold of {threshold:.1%}"
        )
    messages = quarantine["message"].head(MESSAGES_LISTED).tolist()
    excluded_list = [
        {"firm_id": firm_id, "reason": reason}
        for firm_id, reason in sorted(excluded.items())[:MESSAGES_LISTED]
    ]
    return {
        "round_id": round_id,
        "files": files,
        "sheets": sheet_counts,
        "rules": {str(key): int(value) for key, value in rules.items()},
        "checks": checks,
        "n_firms_read": n_read,
        "n_unknown_firm_ids": len(unknown_ids),
        "n_firms_accepted": n_accepted,
        "n_firms_excluded": len(excluded),
        "n_firms_with_problems": n_problems,
        "quarantine_share": share,
        "quarantine_threshold": threshold,
        "blocked": blocked_reason is not None,
        "blocked_reason": blocked_reason,
        "excluded_firms": excluded_list,
        "n_quarantine_records": len(quarantine),
        "reconciled": bool(reconciled),
        "messages": messages,
        "messages_not_listed": max(len(quarantine) - MESSAGES_LISTED, 0),
    }


# ---------------------------------------------------------------- helpers


def _joint_codes(frames: list[pd.DataFrame], columns: list[str]) -> list[np.ndarray]:
    """Dense int64 codes of the combined key ``columns``, consistent across ``frames``.

    Null is a value of its own. No Python loop over rows: each column is factorised over
    the frames together, and the codes are combined pairwise and re-densified.
    """
    lengths = [len(frame) for frame in frames]
    key = np.zeros(sum(lengths), dtype="int64")
    for column in columns:
        values = pd.concat([frame[column] for frame in frames], ignore_index=True)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        width = len(uniques) + 1
        key, _ = pd.factorize(key * width + (codes.astype("int64") + 1))
        key = key.astype("int64")
    return np.split(key, np.cumsum(lengths)[:-1])


def _cells(series: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The values at ``positions`` as an object array (null as NaN)."""
    return series.iloc[positions].to_numpy(dtype=object)


def _isin(series: pd.Series, values: Any) -> np.ndarray:
    """``series.isin(values)`` for text, by Arrow's hash kernel (pandas loops in Python)."""
    if len(series) == 0:
        return np.zeros(0, dtype=bool)
    array = pa.array(series, from_pandas=True).cast(pa.large_string())
    value_set = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    found = pc.fill_null(pc.is_in(array, value_set=value_set), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _flags(size: int, positions: np.ndarray) -> np.ndarray:
    flags = np.zeros(size, dtype=bool)
    flags[positions] = True
    return flags


def _blank(values: np.ndarray) -> np.ndarray:
    return np.array([BLANK if not isinstance(value, str) else value for value in values], object)


def _render(
    template: str,
    raw: pd.DataFrame,
    positions: np.ndarray,
    column: str,
    extra: dict[str, np.ndarray],
) -> np.ndarray:
    """The template filled in per row: {value} the cell, {name} another cell or ``extra``."""
    out = np.full(len(positions), "", dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is None:
            continue
        if name in extra:
            values = np.asarray(extra[name], dtype=object)
        else:
            source = column if name == "value" else name
            values = _cells(raw[source], positions)
        out = out + _blank(values)
    return out
