-- check: every component contribution lies in [ll_min, ul_max] / limit_max (method.md
-- section 4), compared on values rounded to classification_decimals.
with

firm_component as (
    select * from marts.firm_component
),

parameters as (
    select * from methodology.parameters
),

violations as (
    select
        firm_component.firm_id,
        firm_component.component,
        firm_component.contribution,
        firm_component.ll_min,
        firm_component.ul_max
    from firm_component
    cross join parameters
    where
        firm_component.contribution is null
        or round(
            firm_component.contribution, cast(parameters.classification_decimals as integer)
        ) < round(
            firm_component.ll_min / parameters.limit_max,
            cast(parameters.classification_decimals as integer)
        )
        or round(
            firm_component.contribution, cast(parameters.classification_decimals as integer)
        ) > round(
            firm_component.ul_max / parameters.limit_max,
            cast(parameters.classification_decimals as integer)
        )
)

select * from violations
