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

-- every source a firm could take, side by side (a scope is unique per type and id, so each
-- left join keeps one row per firm)
candidates as (
    select
        firms.firm_id,
        firm_ahp.scope_id is not null as has_firm_ahp,
        firm_weights.scope_id is not null as has_firm_weights,
        panel_ahp.scope_id is not null as has_panel_ahp,
        panel_weights.scope_id is not null as has_panel_weights,
        firm_ahp.beta_t as firm_ahp_beta_t,
        firm_ahp.beta_h as firm_ahp_beta_h,
        firm_ahp.beta_i as firm_ahp_beta_i,
        firm_ahp.beta_o as firm_ahp_beta_o,
        firm_ahp.cr as firm_ahp_cr,
        firm_ahp.consistent as firm_ahp_consistent,
        firm_ahp.lambda_max as firm_ahp_lambda_max,
        firm_ahp.n_consistent as firm_ahp_respondents_used,
        firm_weights.beta_t as firm_weights_beta_t,
        firm_weights.beta_h as firm_weights_beta_h,
        firm_weights.beta_i as firm_weights_beta_i,
        firm_weights.beta_o as firm_weights_beta_o,
        panel_ahp.beta_t as panel_ahp_beta_t,
        panel_ahp.beta_h as panel_ahp_beta_h,
        panel_ahp.beta_i as panel_ahp_beta_i,
        panel_ahp.beta_o as panel_ahp_beta_o,
        panel_ahp.cr as panel_ahp_cr,
        panel_ahp.consistent as panel_ahp_consistent,
        panel_ahp.lambda_max as panel_ahp_lambda_max,
        panel_ahp.n_consistent as panel_ahp_respondents_used,
        panel_weights.beta_t as panel_weights_beta_t,
        panel_weights.beta_h as panel_weights_beta_h,
        panel_weights.beta_i as panel_weights_beta_i,
        panel_weights.beta_o as panel_weights_beta_o,
        parameters.default_beta_t,
        parameters.default_beta_h,
        parameters.default_beta_i,
        parameters.default_beta_o
    from firms
    left join ahp_scopes as firm_ahp
        on firm_ahp.scope_type = 'firm' and firms.firm_id = firm_ahp.scope_id
    left join given_weights as firm_weights
        on firm_weights.scope_type = 'firm' and firms.firm_id = firm_weights.scope_id
    left join ahp_scopes as panel_ahp
        on panel_ahp.scope_type = 'panel' and firms.sector_code = panel_ahp.scope_id
    left join given_weights as panel_weights
        on panel_weights.scope_type = 'panel' and firms.sector_code = panel_weights.scope_id
    cross join parameters
),

-- the first source that exists, in the order of the fallback chain
resolved as (
    select
        candidates.*,
        case
            when candidates.has_firm_ahp then 'firm_ahp'
            when candidates.has_firm_weights then 'firm_weights'
            when candidates.has_panel_ahp then 'panel_ahp'
            when candidates.has_panel_weights then 'panel_weights'
            else 'default'
        end as beta_source
    from candidates
),

final as (
    select
        resolved.firm_id,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_beta_t
            when 'firm_weights' then resolved.firm_weights_beta_t
            when 'panel_ahp' then resolved.panel_ahp_beta_t
            when 'panel_weights' then resolved.panel_weights_beta_t
            else resolved.default_beta_t
        end as beta_t,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_beta_h
            when 'firm_weights' then resolved.firm_weights_beta_h
            when 'panel_ahp' then resolved.panel_ahp_beta_h
            when 'panel_weights' then resolved.panel_weights_beta_h
            else resolved.default_beta_h
        end as beta_h,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_beta_i
            when 'firm_weights' then resolved.firm_weights_beta_i
            when 'panel_ahp' then resolved.panel_ahp_beta_i
            when 'panel_weights' then resolved.panel_weights_beta_i
            else resolved.default_beta_i
        end as beta_i,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_beta_o
            when 'firm_weights' then resolved.firm_weights_beta_o
            when 'panel_ahp' then resolved.panel_ahp_beta_o
            when 'panel_weights' then resolved.panel_weights_beta_o
            else resolved.default_beta_o
        end as beta_o,
        resolved.beta_source,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_cr
            when 'panel_ahp' then resolved.panel_ahp_cr
        end as ahp_cr,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_consistent
            when 'panel_ahp' then resolved.panel_ahp_consistent
        end as ahp_consistent,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_lambda_max
            when 'panel_ahp' then resolved.panel_ahp_lambda_max
        end as lambda_max,
        case resolved.beta_source
            when 'firm_ahp' then resolved.firm_ahp_respondents_used
            when 'panel_ahp' then resolved.panel_ahp_respondents_used
        end as ahp_respondents_used
    from resolved
)

select * from final
