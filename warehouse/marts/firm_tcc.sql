-- purpose: this run's candidate rows of the published marts.firm_tcc: each firm's
--   components, betas and their source, TCC, class, technology level and priority. The
--   publish step adds the version.
-- grain: one row per firm
-- key: round_id, firm_id
-- upstreams: intermediate.int_firms__scored, staging.stg_firms, landing.run
with

firms_scored as (
    select * from intermediate.int_firms__scored
),

firms as (
    select * from staging.stg_firms
),

run as (
    select * from landing.run
),

final as (
    select
        run.round_id,
        firms_scored.firm_id,
        firms_scored.sector_code,
        firms_scored.region_code,
        firms_scored.t,
        firms_scored.h,
        firms_scored.i,
        firms_scored.o,
        firms_scored.beta_t,
        firms_scored.beta_h,
        firms_scored.beta_i,
        firms_scored.beta_o,
        firms_scored.beta_source,
        firms_scored.ahp_cr,
        firms_scored.tcc,
        firms_scored.tcc_class,
        firms_scored.technology_level,
        firms_scored.priority,
        firms_scored.ahp_consistent,
        firms_scored.lambda_max,
        firms_scored.ahp_respondents_used,
        firms_scored.sample_weight,
        firms_scored.n_items,
        firms_scored.firm_name,
        firms_scored.sector_name,
        firms_scored.region_name,
        firms.survey_date
    from firms_scored
    inner join firms
        on firms_scored.firm_id = firms.firm_id
    cross join run
)

select * from final
