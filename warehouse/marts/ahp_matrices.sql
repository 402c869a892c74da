-- purpose: every AHP matrix of the run for auditors: each respondent's matrix and each
--   scope's aggregate (AIJ of its consistent respondents), with the 16 cells, betas,
--   lambda_max, ci, cr and consistency. used: for a respondent, whether it entered its
--   scope's aggregate (it is consistent); for an aggregate, whether its betas were given to
--   at least one firm (n_firms_using).
-- grain: one row per scope x respondent (matrix_kind respondent) and one per scope with a
--   consistent respondent (matrix_kind aggregate, respondent null)
-- key: round_id, scope_type, scope_id, matrix_kind, respondent
-- upstreams: intermediate.int_ahp_respondents__evaluated,
--   intermediate.int_ahp_scopes__aggregated, intermediate.int_firms__scored, landing.run
with

respondents as (
    select * from intermediate.int_ahp_respondents__evaluated
),

ahp_scopes as (
    select * from intermediate.int_ahp_scopes__aggregated
),

firms_scored as (
    select * from intermediate.int_firms__scored
),

run as (
    select * from landing.run
),

-- how many firms took their betas from each AHP scope
scope_use as (
    select
        case firms_scored.beta_source
            when 'firm_ahp' then 'firm'
            when 'panel_ahp' then 'panel'
        end as scope_type,
        case firms_scored.beta_source
            when 'firm_ahp' then firms_scored.firm_id
            when 'panel_ahp' then firms_scored.sector_code
        end as scope_id,
        count(*) as n_firms_using
    from firms_scored
    where firms_scored.beta_source in ('firm_ahp', 'panel_ahp')
    group by all
),

matrices as (
    select
        respondents.scope_type,
        respondents.scope_id,
        'respondent' as matrix_kind,
        respondents.respondent,
        null as n_respondents,
        null as n_consistent,
        respondents.a_tt,
        respondents.a_th,
        respondents.a_ti,
        respondents.a_to,
        respondents.a_ht,
        respondents.a_hh,
        respondents.a_hi,
        respondents.a_ho,
        respondents.a_it,
        respondents.a_ih,
        respondents.a_ii,
        respondents.a_io,
        respondents.a_ot,
        respondents.a_oh,
        respondents.a_oi,
        respondents.a_oo,
        respondents.beta_t,
        respondents.beta_h,
        respondents.beta_i,
        respondents.beta_o,
        respondents.lambda_max,
        respondents.ci,
        respondents.cr,
        respondents.consistent,
        respondents.consistent as used,
        null as n_firms_using
    from respondents

    union all

    select
        ahp_scopes.scope_type,
        ahp_scopes.scope_id,
        'aggregate' as matrix_kind,
        null as respondent,
        ahp_scopes.n_respondents,
        ahp_scopes.n_consistent,
        ahp_scopes.a_tt,
        ahp_scopes.a_th,
        ahp_scopes.a_ti,
        ahp_scopes.a_to,
        ahp_scopes.a_ht,
        ahp_scopes.a_hh,
        ahp_scopes.a_hi,
        ahp_scopes.a_ho,
        ahp_scopes.a_it,
        ahp_scopes.a_ih,
        ahp_scopes.a_ii,
        ahp_scopes.a_io,
        ahp_scopes.a_ot,
        ahp_scopes.a_oh,
        ahp_scopes.a_oi,
        ahp_scopes.a_oo,
        ahp_scopes.beta_t,
        ahp_scopes.beta_h,
        ahp_scopes.beta_i,
        ahp_scopes.beta_o,
        ahp_scopes.lambda_max,
        ahp_scopes.ci,
        ahp_scopes.cr,
        ahp_scopes.consistent,
        coalesce(scope_use.n_firms_using, 0) > 0 as used,
        coalesce(scope_use.n_firms_using, 0) as n_firms_using
    from ahp_scopes
    left join scope_use
        on
            ahp_scopes.scope_type = scope_use.scope_type
            and ahp_scopes.scope_id = scope_use.scope_id
),

final as (
    select
        run.round_id,
        matrices.scope_type,
        matrices.scope_id,
        matrices.matrix_kind,
        matrices.respondent,
        matrices.n_respondents,
        matrices.n_consistent,
        matrices.a_tt,
        matrices.a_th,
        matrices.a_ti,
        matrices.a_to,
        matrices.a_ht,
        matrices.a_hh,
        matrices.a_hi,
        matrices.a_ho,
        matrices.a_it,
        matrices.a_ih,
        matrices.a_ii,
        matrices.a_io,
        matrices.a_ot,
        matrices.a_oh,
        matrices.a_oi,
        matrices.a_oo,
        matrices.beta_t,
        matrices.beta_h,
        matrices.beta_i,
        matrices.beta_o,
        matrices.lambda_max,
        matrices.ci,
        matrices.cr,
        matrices.consistent,
        matrices.used,
        matrices.n_firms_using
    from matrices
    cross join run
)

select * from final
