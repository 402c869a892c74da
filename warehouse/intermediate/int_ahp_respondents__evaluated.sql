-- purpose: each respondent's matrix evaluated (betas, lambda_max, ci, cr, consistent) by the
--   one AHP implementation, the ahp_evaluated macro.
-- grain: one row per scope x respondent
-- key: scope_type, scope_id, respondent
-- upstreams: intermediate.int_ahp_matrices__assembled, macro ahp_evaluated
with

-- read by name through ahp_evaluated('...'), which sqlfluff cannot follow
matrices as (  -- noqa: ST03
    select * from intermediate.int_ahp_matrices__assembled
),

evaluated as (
    select * from ahp_evaluated('matrices')
),

final as (
    select
        evaluated.scope_type,
        evaluated.scope_id,
        evaluated.respondent,
        evaluated.a_tt,
        evaluated.a_th,
        evaluated.a_ti,
        evaluated.a_to,
        evaluated.a_ht,
        evaluated.a_hh,
        evaluated.a_hi,
        evaluated.a_ho,
        evaluated.a_it,
        evaluated.a_ih,
        evaluated.a_ii,
        evaluated.a_io,
        evaluated.a_ot,
        evaluated.a_oh,
        evaluated.a_oi,
        evaluated.a_oo,
        evaluated.beta_t,
        evaluated.beta_h,
        evaluated.beta_i,
        evaluated.beta_o,
        evaluated.lambda_max,
        evaluated.ci,
        evaluated.cr,
        evaluated.consistent
    from evaluated
)

select * from final
