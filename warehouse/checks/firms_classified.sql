-- check: every firm has a class, a technology level and a priority naming each component once.
with

firm_tcc as (
    select * from marts.firm_tcc
),

components as (
    select * from methodology.components
),

violations as (
    select
        firm_tcc.firm_id,
        firm_tcc.tcc,
        firm_tcc.tcc_class,
        firm_tcc.technology_level,
        firm_tcc.priority
    from firm_tcc
    where
        firm_tcc.tcc_class is null
        or firm_tcc.technology_level is null
        or firm_tcc.priority is null
        or len(list_distinct(string_split(firm_tcc.priority, ',')))
        != (select count(*) from components)
)

select * from violations
