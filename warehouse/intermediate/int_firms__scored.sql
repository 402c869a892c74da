-- purpose: each firm's TCC = T^bT * H^bH * I^bI * O^bO (method.md section 6), its class and
--   technology level (section 7: intervals (lower, upper] on TCC rounded to
--   classification_decimals, the rule of macro tcc_class_of; the level is the class's) and
--   its improvement priority (section 8).
-- grain: one row per firm with all four components
-- key: firm_id
-- upstreams: staging.stg_firms, intermediate.int_components__aggregated,
--   intermediate.int_firm_betas__resolved, methodology.parameters, methodology.classes,
--   macros priority_order, tcc_class_of
with

firms as (
    select * from staging.stg_firms
),

components as (
    select * from intermediate.int_components__aggregated
),

firm_betas as (
    select * from intermediate.int_firm_betas__resolved
),

parameters as (
    select * from methodology.parameters
),

classes as (
    select * from methodology.classes
),

-- the four contributions side by side; codes are fixed by the methodology (T, H, I, O)
contributions as (
    select
        components.firm_id,
        max(components.contribution) filter (where components.component = 'T') as t,
        max(components.contribution) filter (where components.component = 'H') as h,
        max(components.contribution) filter (where components.component = 'I') as i,
        max(components.contribution) filter (where components.component = 'O') as o,
        cast(sum(components.n_items) as bigint) as n_items
    from components
    group by components.firm_id
),

-- a firm missing a component is excluded upstream (validation); the filter keeps a gap
-- from surfacing as a null TCC
scored as (
    select
        firms.firm_id,
        firms.sector_code,
        firms.region_code,
        firms.firm_name,
        firms.sector_name,
        firms.region_name,
        firms.sample_weight,
        contributions.t,
        contributions.h,
        contributions.i,
        contributions.o,
        contributions.n_items,
        firm_betas.beta_t,
        firm_betas.beta_h,
        firm_betas.beta_i,
        firm_betas.beta_o,
        firm_betas.beta_source,
        firm_betas.ahp_cr,
        firm_betas.ahp_consistent,
        firm_betas.lambda_max,
        firm_betas.ahp_respondents_used,
        exp(
            firm_betas.beta_t * ln(contributions.t)
            + firm_betas.beta_h * ln(contributions.h)
            + firm_betas.beta_i * ln(contributions.i)
            + firm_betas.beta_o * ln(contributions.o)
        ) as tcc
    from firms
    inner join contributions on firms.firm_id = contributions.firm_id
    inner join firm_betas on firms.firm_id = firm_betas.firm_id
    where
        contributions.t is not null
        and contributions.h is not null
        and contributions.i is not null
        and contributions.o is not null
),

classified as (
    select
        scored.*,
        tcc_class_of(scored.tcc) as tcc_class,
        priority_order(
            scored.t,
            scored.h,
            scored.i,
            scored.o,
            scored.beta_t,
            scored.beta_h,
            scored.beta_i,
            scored.beta_o,
            parameters.priority_rule,
            parameters.classification_decimals
        ) as priority
    from scored
    cross join parameters
),

final as (
    select
        classified.firm_id,
        classified.sector_code,
        classified.region_code,
        classified.firm_name,
        classified.sector_name,
        classified.region_name,
        classified.sample_weight,
        classified.t,
        classified.h,
        classified.i,
        classified.o,
        classified.n_items,
        classified.beta_t,
        classified.beta_h,
        classified.beta_i,
        classified.beta_o,
        classified.beta_source,
        classified.ahp_cr,
        classified.ahp_consistent,
        classified.lambda_max,
        classified.ahp_respondents_used,
        classified.tcc,
        classified.tcc_class,
        classes.technology_level,
        classified.priority
    from classified
    left join classes on classified.tcc_class = classes.tcc_class
)

select * from final
