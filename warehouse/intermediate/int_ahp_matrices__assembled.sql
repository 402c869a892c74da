-- purpose: each respondent's 4x4 reciprocal pairwise matrix over T, H, I, O, wide (cell a_xy
--   = how much more x than y contributes). The upper-triangle judgment (row before col in
--   component order) defines a cell and its mirror is its exact reciprocal; a pair given only
--   as its lower-triangle judgment is taken as the reciprocal (method.md section 5).
--   Validation guarantees the six pairs are complete and reciprocal.
-- grain: one row per scope x respondent
-- key: scope_type, scope_id, respondent
-- upstreams: staging.stg_ahp, methodology.components
with

ahp as (
    select * from staging.stg_ahp
),

components as (
    select * from methodology.components
),

-- every judgment turned to its upper-triangle cell
oriented as (
    select
        ahp.scope_type,
        ahp.scope_id,
        ahp.respondent,
        row_components.component_order < col_components.component_order as given_as_upper,
        case
            when row_components.component_order < col_components.component_order
                then ahp.row_component
            else ahp.col_component
        end as upper_row,
        case
            when row_components.component_order < col_components.component_order
                then ahp.col_component
            else ahp.row_component
        end as upper_col,
        case
            when row_components.component_order < col_components.component_order
                then ahp.judgment
            else 1.0 / ahp.judgment
        end as upper_value
    from ahp
    inner join components as row_components on ahp.row_component = row_components.component
    inner join components as col_components on ahp.col_component = col_components.component
),

-- where both orientations were given, the upper-triangle judgment wins
cells as (
    select
        oriented.scope_type,
        oriented.scope_id,
        oriented.respondent,
        oriented.upper_row,
        oriented.upper_col,
        arg_max(oriented.upper_value, oriented.given_as_upper) as upper_value
    from oriented
    group by
        oriented.scope_type,
        oriented.scope_id,
        oriented.respondent,
        oriented.upper_row,
        oriented.upper_col
),

-- the six upper cells side by side; the codes are fixed by the methodology (T, H, I, O)
upper_cells as (
    select
        cells.scope_type,
        cells.scope_id,
        cells.respondent,
        max(cells.upper_value) filter (
            where cells.upper_row = 'T' and cells.upper_col = 'H'
        ) as a_th,
        max(cells.upper_value) filter (
            where cells.upper_row = 'T' and cells.upper_col = 'I'
        ) as a_ti,
        max(cells.upper_value) filter (
            where cells.upper_row = 'T' and cells.upper_col = 'O'
        ) as a_to,
        max(cells.upper_value) filter (
            where cells.upper_row = 'H' and cells.upper_col = 'I'
        ) as a_hi,
        max(cells.upper_value) filter (
            where cells.upper_row = 'H' and cells.upper_col = 'O'
        ) as a_ho,
        max(cells.upper_value) filter (
            where cells.upper_row = 'I' and cells.upper_col = 'O'
        ) as a_io
    from cells
    group by cells.scope_type, cells.scope_id, cells.respondent
),

final as (
    select
        upper_cells.scope_type,
        upper_cells.scope_id,
        upper_cells.respondent,
        cast(1 as double) as a_tt,
        upper_cells.a_th,
        upper_cells.a_ti,
        upper_cells.a_to,
        1.0 / upper_cells.a_th as a_ht,
        cast(1 as double) as a_hh,
        upper_cells.a_hi,
        upper_cells.a_ho,
        1.0 / upper_cells.a_ti as a_it,
        1.0 / upper_cells.a_hi as a_ih,
        cast(1 as double) as a_ii,
        upper_cells.a_io,
        1.0 / upper_cells.a_to as a_ot,
        1.0 / upper_cells.a_ho as a_oh,
        1.0 / upper_cells.a_io as a_oi,
        cast(1 as double) as a_oo
    from upper_cells
)

select * from final
