-- purpose: each item's normalised state of the art s and its contribution
--   c = (ll + s * (ul - ll)) / limit_max (method.md sections 3 and 4).
-- grain: one row per firm x component x item
-- key: firm_id, component, item_id
-- upstreams: staging.stg_items, intermediate.int_sota__averaged, methodology.criteria,
--   methodology.parameters
with

items as (
    select * from staging.stg_items
),

sota_averaged as (
    select * from intermediate.int_sota__averaged
),

criteria as (
    select * from methodology.criteria
),

parameters as (
    select * from methodology.parameters
),

-- each criterion's mean rating put on [0, 1] by the methodology's sota_scale
criterion_sota as (
    select
        sota_averaged.firm_id,
        sota_averaged.component,
        sota_averaged.item_id,
        sota_averaged.criterion,
        criteria.criterion_weight,
        (sota_averaged.mean_score - parameters.sota_min)
        / (parameters.sota_max - parameters.sota_min) as normalised_sota
    from sota_averaged
    inner join criteria
        on
            sota_averaged.component = criteria.component
            and sota_averaged.criterion = criteria.criterion
    cross join parameters
),

-- criterion weights turn the mean over criteria into a weighted mean
item_sota as (
    select
        criterion_sota.firm_id,
        criterion_sota.component,
        criterion_sota.item_id,
        sum(criterion_sota.criterion_weight * criterion_sota.normalised_sota)
        / sum(criterion_sota.criterion_weight) as sota,
        count(*) as n_criteria
    from criterion_sota
    group by criterion_sota.firm_id, criterion_sota.component, criterion_sota.item_id
),

final as (
    select
        items.firm_id,
        items.component,
        items.item_id,
        items.item_name,
        items.weight,
        items.ll,
        items.ul,
        item_sota.sota,
        item_sota.n_criteria,
        (items.ll + item_sota.sota * (items.ul - items.ll)) / parameters.limit_max as contribution
    from items
    inner join item_sota
        on
            items.firm_id = item_sota.firm_id
            and items.component = item_sota.component
            and items.item_id = item_sota.item_id
    cross join parameters
)

select * from final
