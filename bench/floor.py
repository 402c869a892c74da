"""The benchmark floor: a round's whole method in one DuckDB query, with no pipeline around it.

Given the same input files the pipeline reads (workbooks ``.xlsx`` and/or folders of contract
CSV files), :func:`run_floor` reads them straight into Arrow (fastexcel for workbooks,
pyarrow.csv for CSV folders) and computes, in one DuckDB query: normalised SOTA per item ->
item contribution c -> component contributions T, H, I, O (with each component's lowest ll,
highest ul, weighted SOTA, items and weight, as published) -> AHP intensities (each
respondent's principal eigenvector by repeated squaring, as the methodology's power method,
or the geometric-mean method when the methodology says so; CR; AIJ of the consistent
respondents; the scope chain firm AHP -> firm weights -> panel AHP -> panel weights ->
default) -> TCC -> class and technology level -> improvement priority (section 8); then, in a
second query over that firm table, the technometric map of section 9 (per group: all,
sector, region, sector x region; weighted means, quartiles, class counts and shares,
first-priority shares, the group's priority). It returns the seconds spent per phase.

No validation, quarantine, provenance or publication: this is the lower bound the pipeline's
own timing is compared with. It assumes contract-conform input (lower-case contract headers,
components as the codes T, H, I, O in items and sota, no decimal commas).

Usage: ``python bench/floor.py INPUT [INPUT ...]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import fastexcel
import pyarrow as pa
import pyarrow.csv as pa_csv

from thio.contract import SHEETS
from thio.methodology import Methodology, load_methodology

_ARROW_TYPES = {
    "text": pa.string(),
    "component": pa.string(),
    "judgment": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
}
_FASTEXCEL_TYPES = {
    "text": "string",
    "component": "string",
    "judgment": "string",
    "integer": "int",
    "number": "float",
    "date": "date",
}
_UPPER = (("T", "H"), ("T", "I"), ("T", "O"), ("H", "I"), ("H", "O"), ("I", "O"))
_ORDER = "THIO"


def _schema(sheet_name: str) -> pa.Schema:
    sheet = SHEETS[sheet_name]
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in sheet.columns])


def _read_xlsx(path: Path) -> dict[str, pa.Table]:
    reader = fastexcel.read_excel(str(path))
    present = {name.strip().lower(): name for name in reader.sheet_names}
    tables = {}
    for name, sheet in SHEETS.items():
        if name not in present:
            continue
        dtypes = {c.name: _FASTEXCEL_TYPES[c.kind] for c in sheet.columns}
        table = reader.load_sheet_by_name(present[name], dtypes=dtypes).to_arrow()
        tables[name] = _conform(name, table)
    return tables


def _read_csv_folder(folder: Path) -> dict[str, pa.Table]:
    tables = {}
    for name, sheet in SHEETS.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        types = {c.name: _ARROW_TYPES[c.kind] for c in sheet.columns}
        table = pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        tables[name] = _conform(name, table)
    return tables


def _conform(name: str, table: pa.Table) -> pa.Table:
    """The table with exactly the contract columns and types (absent columns as nulls)."""
    schema = _schema(name)
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if column.type != field.type:
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def read_inputs(inputs: list[Path]) -> dict[str, pa.Table]:
    """Every contract sheet of the inputs, unioned, as Arrow tables (empty when absent)."""
    parts: dict[str, list[pa.Table]] = {name: [] for name in SHEETS}
    for path in map(Path, inputs):
        tables = _read_csv_folder(path) if path.is_dir() else _read_xlsx(path)
        for name, table in tables.items():
            parts[name].append(table)
    return {
        name: pa.concat_tables(tables) if tables else _schema(name).empty_table()
        for name, tables in parts.items()
    }


def _pair_column(i: str, j: str) -> str:
    return "to_" if (i, j) == ("T", "O") else (i + j).lower()


def _matrix(prefix: str = "") -> list[str]:
    """The 16 cells of a 4x4 matrix from its upper-triangle columns th, ti, to_, hi, ho, io."""
    up = {pair: f"{prefix}{(pair[0] + pair[1]).lower()}" for pair in _UPPER}
    up[("T", "O")] = f"{prefix}to_"
    cells = []
    for i in _ORDER:
        for j in _ORDER:
            if i == j:
                cells.append("1.0::double")
            elif (i, j) in up:
                cells.append(up[(i, j)])
            else:
                cells.append(f"1.0 / {up[(j, i)]}")
    return cells


def _eigen_ctes(name: str, source: str, keys: str, method: str) -> str:
    """CTEs ``{name}`` with the keys, b0..b3, lambda_max and cr of the matrices in ``source``."""
    cells = _matrix()
    a = [f"a{i}{j}" for i in range(4) for j in range(4)]
    if method == "geometric_mean":
        roots = [f"pow({' * '.join(cells[4 * i : 4 * i + 4])}, 0.25)" for i in range(4)]
        vector = f"""{name}_vec as (
  select {keys}, th, ti, to_, hi, ho, io, {", ".join(f"{r} as g{i}" for i, r in enumerate(roots))}
  from {source}
),
{name}_b as (
  select {keys}, th, ti, to_, hi, ho, io,
    {", ".join(f"g{i} / (g0 + g1 + g2 + g3) as b{i}" for i in range(4))}
  from {name}_vec
)"""
    else:
        products = ", ".join(
            " + ".join(f"a{i}{k} * a{k}{j}" for k in range(4)) + f" as p{i}{j}"
            for i in range(4)
            for j in range(4)
        )
        total = " + ".join(f"p{i}{j}" for i in range(4) for j in range(4))
        normalised = ", ".join(
            f"p{i}{j} / ({total}) as a{i}{j}" for i in range(4) for j in range(4)
        )
        row_sums = [" + ".join(f"a{i}{j}" for j in range(4)) for i in range(4)]
        all_sum = " + ".join(a)
        vector = f"""{name}_sq as (
  select {keys}, 0 as k, {", ".join(f"{c} as {x}" for c, x in zip(cells, a, strict=True))}
  from {source}
  union all
  select {keys}, k + 1, {normalised}
  from (select {keys}, k, {products} from {name}_sq where k < $squarings)
),
{name}_b as (
  select {keys}, m.th, m.ti, m.to_, m.hi, m.ho, m.io,
    {", ".join(f"({row_sums[i]}) / ({all_sum}) as b{i}" for i in range(4))}
  from {name}_sq s join {source} m using ({keys})
  where s.k = $squarings
)"""
    ab = [" + ".join(f"{cells[4 * i + j]} * b{j}" for j in range(4)) for i in range(4)]
    lam = " + ".join(f"({ab[i]}) / b{i}" for i in range(4))
    return f"""{vector},
{name} as materialized (
  select {keys}, b0, b1, b2, b3, ({lam}) / 4.0 as lambda_max,
    (({lam}) / 4.0 - 4.0) / 3.0 / $ri4 as cr
  from {name}_b
)"""


def _component_aggregates() -> str:
    """Section 4 per component, side by side: the contribution (t, h, i, o) and the
    published details of each (lowest ll, highest ul, weighted mean SOTA, items, weight)."""
    parts = []
    for code in _ORDER:
        name = code.lower()
        only = f"filter (where component = '{code}')"
        parts += [
            f"sum(w * c) {only} / sum(w) {only} as {name}",
            f"min(ll) {only} as {name}_ll_min",
            f"max(ul) {only} as {name}_ul_max",
            f"sum(w * s) {only} / sum(w) {only} as {name}_sota",
            f"count(*) {only} as {name}_n_items",
            f"sum(w) {only} as {name}_weight_sum",
        ]
    return ",\n    ".join(parts)


def _priority_sql(rule: str, *columns: str) -> str:
    """Section 8: the components ranked for upgrading ("H,I,T,O") from the columns of the
    four contributions then the four betas; keys rounded to $decimals, ties in THIO order."""
    contributions, betas = columns[:4], columns[4:]
    keys = {
        "lowest_contribution": [f"round({c}, $decimals)" for c in contributions],
        "highest_intensity": [f"-round({b}, $decimals)" for b in betas],
        "weighted_gap": [
            f"-round({b} * (1 - {c}), $decimals)" for c, b in zip(contributions, betas, strict=True)
        ],
    }[rule]
    ranked = ", ".join(
        f"{{'k': {key}, 'n': {n}, 'c': '{code}'}}"
        for n, (key, code) in enumerate(zip(keys, _ORDER, strict=True))
    )
    return f"array_to_string(list_transform(list_sort([{ranked}]), lambda x: x.c), ',')"


def groups_sql(rule: str, classes: list[str]) -> str:
    """Section 9 over the firm result ``firm_result``: per group (all, sector, region,
    sector x region) n, weighted means, quantiles, class counts and shares, first-priority
    shares, and the group's own priority from its mean components and betas."""
    per_class = ", ".join(
        f"count(*) filter (where tcc_class = '{code}') as n_{code}, "
        f"coalesce(sum(w) filter (where tcc_class = '{code}'), 0) / sum(w) as share_{code}"
        for code in classes
    )
    first = ", ".join(
        f"coalesce(sum(w) filter (where first = '{code}'), 0) / sum(w) as first_share_{code}"
        for code in _ORDER
    )
    means = ", ".join(
        f"sum(w * {c}) / sum(w) as {c}_mean"
        for c in ("tcc", "t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o")
    )
    means_of = [f"{c}_mean" for c in ("t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o")]
    return f"""
with weighting as (
  select bool_or(sample_weight is not null) as weighted from firm_result
),
weighted as (
  select firm_result.*, case when weighted then sample_weight else 1.0 end as w,
    split_part(priority, ',', 1) as first
  from firm_result cross join weighting
),
grouped as (
  select grouping(sector_code, region_code) as grouping_set, sector_code, region_code,
    count(*) as n_firms, sum(w) as weight_sum, {means},
    quantile_cont(tcc, [0.25, 0.5, 0.75]) as tcc_quartiles, min(tcc) as tcc_min,
    max(tcc) as tcc_max, {per_class}, {first}
  from weighted
  group by grouping sets ((), (sector_code), (region_code), (sector_code, region_code))
)
select grouped.*, cl.tcc_class as tcc_mean_class, {_priority_sql(rule, *means_of)} as priority
from grouped
left join classes cl
  on round(tcc_mean, $decimals) > cl.lower_bound and round(tcc_mean, $decimals) <= cl.upper_bound
"""


def floor_sql(method: str = "eigenvector", rule: str = "lowest_contribution") -> str:
    """The firm query: a row per complete firm with T, H, I, O and each component's details,
    betas, TCC, class and priority."""
    pair_columns = ", ".join(
        f"max(a) filter (where pair = '{i}{j}') as {_pair_column(i, j)}" for i, j in _UPPER
    )
    details = ", ".join(
        f"{code.lower()}_{detail}"
        for code in _ORDER
        for detail in ("ll_min", "ul_max", "sota", "n_items", "weight_sum")
    )
    geo = ", ".join(f"exp(avg(ln({c}))) as {c}" for c in ("th", "ti", "to_", "hi", "ho", "io"))
    return f"""
with recursive
itm as (
  select firm_id, component, item_id, coalesce(weight, 1.0) as w, ll, ul
  from items
),
rating as (
  select firm_id, component, item_id, criterion, avg(score) as rating
  from sota
  group by all
),
item_s as (
  select r.firm_id, r.component, r.item_id,
    sum(c.weight * (r.rating - $sota_min) / ($sota_max - $sota_min)) / sum(c.weight) as s
  from rating r join criteria c on c.component = r.component and c.criterion = r.criterion
  group by all
),
item_c as (
  select i.firm_id, i.component, i.w, i.ll, i.ul, s.s,
    (i.ll + s.s * (i.ul - i.ll)) / $limit_max as c
  from itm i join item_s s using (firm_id, component, item_id)
),
comp as materialized (
  select firm_id, {_component_aggregates()}
  from item_c
  group by firm_id
),
judgment as (
  select nullif(trim(firm_id), '') as firm_id, nullif(trim(panel_id), '') as panel_id,
    respondent, instr('THIO', upper(left(trim("row"), 1))) as ro,
    instr('THIO', upper(left(trim(col), 1))) as co,
    case when contains(value, '/')
      then try_cast(split_part(value, '/', 1) as double)
           / try_cast(split_part(value, '/', 2) as double)
      else try_cast(value as double) end as x
  from ahp
),
oriented as (
  select case when firm_id is not null then 'firm' else 'panel' end as scope_type,
    coalesce(firm_id, panel_id) as scope_id, respondent,
    substr('THIO', least(ro, co), 1) || substr('THIO', greatest(ro, co), 1) as pair,
    case when ro < co then x else 1.0 / x end as a0, (ro < co)::int as is_upper
  from judgment
  where ro > 0 and co > 0 and ro <> co and x > 0
),
snapped as (
  select scope_type, scope_id, respondent, pair,
    arg_max(case when a0 >= 1 then least(9, round(a0)) else 1.0 / least(9, round(1.0 / a0)) end,
            is_upper) as a
  from oriented
  group by all
),
matrices as materialized (
  select scope_type, scope_id, respondent, {pair_columns}
  from snapped
  group by all
  having count(*) = 6
),
{_eigen_ctes("respondent_eig", "matrices", "scope_type, scope_id, respondent", method)},
aggregated as materialized (
  select scope_type, scope_id, {geo}, count(*) as n_used
  from respondent_eig e join matrices m using (scope_type, scope_id, respondent)
  where round(e.cr, $decimals) <= $cr_threshold
  group by all
),
{_eigen_ctes("scope_eig", "aggregated", "scope_type, scope_id", method)},
given as materialized (
  select coalesce(nullif(trim(firm_id), ''), nullif(trim(panel_id), '')) as scope_id,
    case when nullif(trim(firm_id), '') is not null then 'firm' else 'panel' end as scope_type,
    sum(beta) filter (where upper(left(trim(component), 1)) = 'T') / sum(beta) as b0,
    sum(beta) filter (where upper(left(trim(component), 1)) = 'H') / sum(beta) as b1,
    sum(beta) filter (where upper(left(trim(component), 1)) = 'I') / sum(beta) as b2,
    sum(beta) filter (where upper(left(trim(component), 1)) = 'O') / sum(beta) as b3
  from weights
  group by all
),
firm as (
  select f.firm_id, any_value(f.sector_code) as sector_code,
    any_value(f.region_code) as region_code, any_value(f.sample_weight) as sample_weight
  from firms f
  group by f.firm_id
),
chosen as (
  select f.firm_id, f.sector_code, f.region_code, f.sample_weight, c.*  exclude (firm_id),
    case when fa.scope_id is not null then 'firm_ahp'
         when fw.scope_id is not null then 'firm_weights'
         when pa.scope_id is not null then 'panel_ahp'
         when pw.scope_id is not null then 'panel_weights'
         else 'default' end as beta_source,
    fa.b0 as fa0, fa.b1 as fa1, fa.b2 as fa2, fa.b3 as fa3, fa.cr as fa_cr,
    fw.b0 as fw0, fw.b1 as fw1, fw.b2 as fw2, fw.b3 as fw3,
    pa.b0 as pa0, pa.b1 as pa1, pa.b2 as pa2, pa.b3 as pa3, pa.cr as pa_cr,
    pw.b0 as pw0, pw.b1 as pw1, pw.b2 as pw2, pw.b3 as pw3
  from firm f
  join comp c using (firm_id)
  left join scope_eig fa on fa.scope_type = 'firm' and fa.scope_id = f.firm_id
  left join given fw on fw.scope_type = 'firm' and fw.scope_id = f.firm_id
  left join scope_eig pa on pa.scope_type = 'panel' and pa.scope_id = f.sector_code
  left join given pw on pw.scope_type = 'panel' and pw.scope_id = f.sector_code
  where c.t is not null and c.h is not null and c.i is not null and c.o is not null
),
betas as (
  select firm_id, sector_code, region_code, sample_weight, t, h, i, o, {details}, beta_source,
    case beta_source when 'firm_ahp' then fa0 when 'firm_weights' then fw0
      when 'panel_ahp' then pa0 when 'panel_weights' then pw0 else $beta_t end as beta_t,
    case beta_source when 'firm_ahp' then fa1 when 'firm_weights' then fw1
      when 'panel_ahp' then pa1 when 'panel_weights' then pw1 else $beta_h end as beta_h,
    case beta_source when 'firm_ahp' then fa2 when 'firm_weights' then fw2
      when 'panel_ahp' then pa2 when 'panel_weights' then pw2 else $beta_i end as beta_i,
    case beta_source when 'firm_ahp' then fa3 when 'firm_weights' then fw3
      when 'panel_ahp' then pa3 when 'panel_weights' then pw3 else $beta_o end as beta_o,
    case beta_source when 'firm_ahp' then fa_cr when 'panel_ahp' then pa_cr end as ahp_cr
  from chosen
),
tcc as (
  select *, exp(beta_t * ln(t) + beta_h * ln(h) + beta_i * ln(i) + beta_o * ln(o)) as tcc
  from betas
)
select tcc.*, cl.tcc_class, cl.technology_level,
  {_priority_sql(rule, "t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o")} as priority
from tcc
left join classes cl
  on round(tcc.tcc, $decimals) > cl.lower_bound and round(tcc.tcc, $decimals) <= cl.upper_bound
order by firm_id
"""


def _parameters(methodology: Methodology) -> dict[str, Any]:
    settings = methodology.settings
    betas = settings["default_betas"]
    return {
        "sota_min": methodology.sota_min,
        "sota_max": methodology.sota_max,
        "limit_max": float(methodology.limit_max),
        "ri4": float(settings["ahp"]["random_index"][4]),
        "cr_threshold": float(settings["ahp"]["cr_threshold"]),
        "decimals": int(settings["classification_decimals"]),
        "squarings": int(settings["ahp"].get("power_squarings", 40)),
        "beta_t": float(betas["T"]),
        "beta_h": float(betas["H"]),
        "beta_i": float(betas["I"]),
        "beta_o": float(betas["O"]),
    }


def _settings_tables(methodology: Methodology) -> dict[str, pa.Table]:
    criteria = [
        (component["code"], criterion["code"], float(criterion.get("weight", 1)))
        for component in methodology.components
        for criterion in component["criteria"]
    ]
    classes = methodology.settings["classes"]
    return {
        "criteria": pa.table(
            {
                "component": [c[0] for c in criteria],
                "criterion": [c[1] for c in criteria],
                "weight": [c[2] for c in criteria],
            }
        ),
        "classes": pa.table(
            {
                "tcc_class": [band["code"] for band in classes],
                "lower_bound": [float(band["lower"]) for band in classes],
                "upper_bound": [float(band["upper"]) for band in classes],
                "technology_level": [band["level"] for band in classes],
            }
        ),
    }


def run_floor(
    inputs: list[Path],
    *,
    methodology: Methodology | None = None,
    threads: int | None = None,
    keep_result: bool = False,
) -> dict[str, Any]:
    """Read the inputs and compute the round (the firm query, then the groups query over
    its result); seconds per phase.

    Returns ``{"read_s", "compute_s", "total_s", "n_firms", "rows": {sheet: n}, "inputs",
    "method"}`` and, with ``keep_result``, ``"result"``: the firm table, and ``"groups"``:
    the group table (pyarrow Tables).
    """
    methodology = methodology or load_methodology()
    method = methodology.settings["ahp"].get("method", "eigenvector")
    started = time.perf_counter()
    tables = read_inputs([Path(p) for p in inputs])
    read_done = time.perf_counter()

    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")  # its drawing is no part of the work
        if threads:
            con.execute(f"set threads = {int(threads)}")
        for name, table in {**tables, **_settings_tables(methodology)}.items():
            con.register(name, table)
        rule = methodology.settings.get("priority_rule", "lowest_contribution")
        parameters = _parameters(methodology)
        sql = floor_sql(method, rule)
        params = {k: v for k, v in parameters.items() if f"${k}" in sql}
        result = con.sql(sql, params=params).to_arrow_table()
        con.register("firm_result", result)
        sql = groups_sql(rule, [band["code"] for band in methodology.settings["classes"]])
        params = {k: v for k, v in parameters.items() if f"${k}" in sql}
        groups = con.sql(sql, params=params).to_arrow_table()
    finally:
        con.close()
    done = time.perf_counter()

    out: dict[str, Any] = {
        "read_s": read_done - started,
        "compute_s": done - read_done,
        "total_s": done - started,
        "n_firms": result.num_rows,
        "rows": {name: table.num_rows for name, table in tables.items()},
        "inputs": [str(p) for p in inputs],
        "method": method,
    }
    if keep_result:
        out["result"] = result
        out["groups"] = groups
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python bench/floor.py INPUT [INPUT ...]")
    print(json.dumps(run_floor([Path(a) for a in args]), indent=1))


if __name__ == "__main__":
    main()
