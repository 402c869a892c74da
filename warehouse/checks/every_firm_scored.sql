-- check: every accepted firm reaches marts.firm_tcc with its four components in
-- marts.firm_component (validation excludes incomplete firms before the compute step).
with

firms as (
    select * from staging.stg_firms
),

firm_tcc as (
    select * from marts.firm_tcc
),

firm_component as (
    select * from marts.firm_component
),

components as (
    select * from methodology.components
),

component_counts as (
    select
        firm_component.firm_id,
        count(*) as n_components
    from firm_component
    group by firm_component.firm_id
),

violations as (
    select
        firms.firm_id,
        firm_tcc.firm_id is not null as in_firm_tcc,
        coalesce(component_counts.n_components, 0) as n_components
    from firms
    left join firm_tcc on firms.firm_id = firm_tcc.firm_id
    left join component_counts on firms.firm_id = component_counts.firm_id
    where
        firm_tcc.firm_id is null
        or coalesce(component_counts.n_components, 0) != (select count(*) from components)
)

select * from violations
