-- purpose: this run's candidate rows of the published marts.firm_component: each firm's
--   component contribution with its lowest ll, highest ul, weighted mean SOTA, item count and
--   the firm's beta for it.
-- grain: one row per firm x component
-- key: round_id, firm_id, component
-- upstreams: intermediate.int_components__aggregated, intermediate.int_firms__scored,
--   landing.run
with

components as (
    select * from intermediate.int_components__aggregated
),

firms_scored as (
    select * from intermediate.int_firms__scored
),

run as (
    select * from landing.run
),

final as (
    select
        run.round_id,
        components.firm_id,
        components.component,
        components.contribution,
        components.ll_min,
        components.ul_max,
        components.sota,
        components.n_items,
        case components.component
            when 'T' then firms_scored.beta_t
            when 'H' then firms_scored.beta_h
            when 'I' then firms_scored.beta_i
            when 'O' then firms_scored.beta_o
        end as beta,
        components.component_order,
        components.weight_sum
    from components
    -- only the firms that were scored (all four components)
    inner join firms_scored on components.firm_id = firms_scored.firm_id
    cross join run
)

select * from final
