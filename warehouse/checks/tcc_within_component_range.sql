-- check: TCC is a weighted geometric mean of the components, so
-- min(T, H, I, O) <= TCC <= max(T, H, I, O) (method.md section 6), on rounded values.
with

firm_tcc as (
    select * from marts.firm_tcc
),

parameters as (
    select * from methodology.parameters
),

violations as (
    select
        firm_tcc.firm_id,
        firm_tcc.t,
        firm_tcc.h,
        firm_tcc.i,
        firm_tcc.o,
        firm_tcc.tcc
    from firm_tcc
    cross join parameters
    where
        firm_tcc.tcc is null
        or round(firm_tcc.tcc, cast(parameters.classification_decimals as integer))
        < round(
            least(firm_tcc.t, firm_tcc.h, firm_tcc.i, firm_tcc.o),
            cast(parameters.classification_decimals as integer)
        )
        or round(firm_tcc.tcc, cast(parameters.classification_decimals as integer))
        > round(
            greatest(firm_tcc.t, firm_tcc.h, firm_tcc.i, firm_tcc.o),
            cast(parameters.classification_decimals as integer)
        )
)

select * from violations
