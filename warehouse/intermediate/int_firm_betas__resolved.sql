-- purpose: each firm's contribution intensities from the first scope that exists, in the
--   order firm_ahp -> firm_weights -> panel_ahp -> panel_weights -> default (method.md
--   section 5); panel_id is the firm's sector_code. Given weights are renormalised to sum 1.
--   ahp_cr and lambda_max are null unless the betas come from an AHP scope.
-- grain: one row per firm
-- key: firm_id
-- upstreams: staging.stg_firms, staging.stg_weights, intermediate.int_ahp_scopes__aggregated,
--   methodology.parameters, methodology.components
with

firms as (
    select * from staging.stg_firms
),

weights as (
    select * from staging.stg_weights
),

ahp_scopes as (
    select * from intermediate.int_ahp_scopes__aggregated
),

parameters as (
    select * from methodology.parameters
),

components as (
    select * from methodology.components
),

-- a weights scope counts only with all four components (validation guarantees it; this
-- keeps a partial scope from yielding null betas)
given_weights as (
    select
        weights.scope_type,
        weights.scope_id,
        sum(weights.beta) filter (where weights.component = 'T') / sum(weights.beta) as beta_t,
        sum(weights.beta) filter (where weights.component = 'H') / sum(weights.beta) as beta_h,
        sum(weights.beta) filter (where weights.component = 'I') / sum(weights.beta) as beta_i,
        sum(weights.beta) filter (where weights.component = 'O') / sum(weights.beta) as beta_o
    from weights
    group by weights.scope_type, weights.scope_id
    having count(distinct weights.component) = (select count(*) from components)
),

-- every source a firm could take, with its rank in the fallback chain
candidates as (
    select
        firms.firm_id,
        1 as source_rank,
        'firm_ahp' as beta_source,
        ahp_scopes.beta_t,
        ahp_scopes.beta_h,
        ahp_scopes.beta_i,
        ahp_scopes.beta_o,
        ahp_scopes.cr as ahp_cr,
        ahp_scopes.consistent as ahp_consistent,
        ahp_scopes.lambda_max,
        ahp_scopes.n_consistent as ahp_respondents_used
    from firms
    inner join ahp_scopes
        on ahp_scopes.scope_type = 'firm' and firms.firm_id = ahp_scopes.scope_id

    union all

    select
        firms.firm_id,
        2 as source_rank,
        'firm_weights' as beta_source,
        given_weights.beta_t,
        given_weights.beta_h,
        given_weights.beta_i,
        given_weights.beta_o,
        null as ahp_cr,
        null as ahp_consistent,
        null as lambda_max,
        null as ahp_respondents_used
    from firms
    inner join given_weights
        on given_weights.scope_type = 'firm' and firms.firm_id = given_weights.scope_id

    union all

    select
        firms.firm_id,
        3 as source_rank,
        'panel_ahp' as beta_source,
        ahp_scopes.beta_t,
        ahp_scopes.beta_h,
        ahp_scopes.beta_i,
        ahp_scopes.beta_o,
        ahp_scopes.cr as ahp_cr,
        ahp_scopes.consistent as ahp_consistent,
        ahp_scopes.lambda_max,
        ahp_scopes.n_consistent as ahp_respondents_used
    from firms
    inner join ahp_scopes
        on ahp_scopes.scope_type = 'panel' and firms.sector_code = ahp_scopes.scope_id

    union all

    select
        firms.firm_id,
        4 as source_rank,
        'panel_weights' as beta_source,
        given_weights.beta_t,
        given_weights.beta_h,
        given_weights.beta_i,
        given_weights.beta_o,
        null as ahp_cr,
        null as ahp_consistent,
        null as lambda_max,
        null as ahp_respondents_used
    from firms
    inner join given_weights
        on given_weights.scope_type = 'panel' and firms.sector_code = given_weights.scope_id

    union all

    select
        firms.firm_id,
        5 as source_rank,
        'default' as beta_source,
        parameters.default_beta_t as beta_t,
        parameters.default_beta_h as beta_h,
        parameters.default_beta_i as beta_i,
        parameters.default_beta_o as beta_o,
        null as ahp_cr,
        null as ahp_consistent,
        null as lambda_max,
        null as ahp_respondents_used
    from firms
    cross join parameters
),

resolved as (
    select candidates.*
    from candidates
    qualify row_number() over (
        partition by candidates.firm_id order by candidates.source_rank
    ) = 1
),

final as (
    select
        resolved.firm_id,
        resolved.beta_t,
        resolved.beta_h,
        resolved.beta_i,
        resolved.beta_o,
        resolved.beta_source,
        resolved.ahp_cr,
        resolved.ahp_consistent,
        resolved.lambda_max,
        resolved.ahp_respondents_used
    from resolved
)

select * from final
