-- purpose: each firm's component contribution (T, H, I, O) as the weighted mean of its items'
--   contributions, with the lowest ll, highest ul, item count and weighted mean SOTA
--   (method.md section 4).
-- grain: one row per firm x component
-- key: firm_id, component
-- upstreams: intermediate.int_items__scored, methodology.components
with

items_scored as (
    select * from intermediate.int_items__scored
),

components as (
    select * from methodology.components
),

aggregated as (
    select
        items_scored.firm_id,
        items_scored.component,
        sum(items_scored.weight * items_scored.contribution)
        / sum(items_scored.weight) as contribution,
        sum(items_scored.weight * items_scored.sota) / sum(items_scored.weight) as sota,
        min(items_scored.ll) as ll_min,
        max(items_scored.ul) as ul_max,
        count(*) as n_items,
        sum(items_scored.weight) as weight_sum
    from items_scored
    group by items_scored.firm_id, items_scored.component
),

final as (
    select
        aggregated.firm_id,
        aggregated.component,
        components.component_order,
        aggregated.contribution,
        aggregated.ll_min,
        aggregated.ul_max,
        aggregated.sota,
        aggregated.n_items,
        aggregated.weight_sum
    from aggregated
    inner join components on aggregated.component = components.component
)

select * from final
