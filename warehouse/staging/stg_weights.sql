-- purpose: given contribution intensities with their scope made explicit, as stg_ahp does.
-- grain: one row per scope x component
-- key: scope_type, scope_id, component
-- upstreams: landing.weights
with

landing_weights as (
    select * from landing.weights
),

final as (
    select
        case
            when nullif(landing_weights.firm_id, '') is not null then 'firm'
            else 'panel'
        end as scope_type,
        coalesce(nullif(landing_weights.firm_id, ''), landing_weights.panel_id) as scope_id,
        landing_weights.component,
        landing_weights.beta,
        landing_weights._file as source_file,
        landing_weights._row as source_row
    from landing_weights
)

select * from final
