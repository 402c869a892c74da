-- purpose: the pairwise judgments with their scope made explicit: a row with a firm_id
--   judges that firm, otherwise the sector panel named by panel_id (= sector_code).
--   value is already the exact Saaty scale value (validation parsed "1/3", 0.3333, ...).
-- grain: one row per scope x respondent x judged pair as given (row, col)
-- key: scope_type, scope_id, respondent, row_component, col_component
-- upstreams: landing.ahp
with

landing_ahp as (
    select * from landing.ahp
),

final as (
    select
        case
            when nullif(landing_ahp.firm_id, '') is not null then 'firm'
            else 'panel'
        end as scope_type,
        coalesce(nullif(landing_ahp.firm_id, ''), landing_ahp.panel_id) as scope_id,
        landing_ahp.respondent,
        landing_ahp.row as row_component,
        landing_ahp.col as col_component,
        landing_ahp.value as judgment,
        landing_ahp.value_text as judgment_text,
        landing_ahp._file as source_file,
        landing_ahp._row as source_row
    from landing_ahp
)

select * from final
