-- purpose: one matrix per AHP scope (a firm, or a sector panel): the element-wise geometric
--   mean of its consistent respondents' matrices (AIJ), evaluated by the ahp_evaluated macro.
--   A scope exists only when at least one respondent is consistent; the aggregate is used
--   even when its own CR passes the threshold (then consistent is false: flagged).
-- grain: one row per scope with at least one consistent respondent
-- key: scope_type, scope_id
-- upstreams: intermediate.int_ahp_respondents__evaluated, macro ahp_evaluated
with

respondents as (
    select * from intermediate.int_ahp_respondents__evaluated
),

respondent_counts as (
    select
        respondents.scope_type,
        respondents.scope_id,
        count(*) as n_respondents,
        count(*) filter (where respondents.consistent) as n_consistent
    from respondents
    group by respondents.scope_type, respondents.scope_id
),

-- geometric means of the upper cells; each mirror is set to the exact reciprocal so the
-- aggregate is reciprocal to the last bit
aggregated_upper as (
    select
        respondents.scope_type,
        respondents.scope_id,
        exp(avg(ln(respondents.a_th))) as a_th,
        exp(avg(ln(respondents.a_ti))) as a_ti,
        exp(avg(ln(respondents.a_to))) as a_to,
        exp(avg(ln(respondents.a_hi))) as a_hi,
        exp(avg(ln(respondents.a_ho))) as a_ho,
        exp(avg(ln(respondents.a_io))) as a_io
    from respondents
    where respondents.consistent
    group by respondents.scope_type, respondents.scope_id
),

-- read by name through ahp_evaluated('...'), which sqlfluff cannot follow
aggregated_matrices as (  -- noqa: ST03
    select
        aggregated_upper.scope_type,
        aggregated_upper.scope_id,
        cast(1 as double) as a_tt,
        aggregated_upper.a_th,
        aggregated_upper.a_ti,
        aggregated_upper.a_to,
        1.0 / aggregated_upper.a_th as a_ht,
        cast(1 as double) as a_hh,
        aggregated_upper.a_hi,
        aggregated_upper.a_ho,
        1.0 / aggregated_upper.a_ti as a_it,
        1.0 / aggregated_upper.a_hi as a_ih,
        cast(1 as double) as a_ii,
        aggregated_upper.a_io,
        1.0 / aggregated_upper.a_to as a_ot,
        1.0 / aggregated_upper.a_ho as a_oh,
        1.0 / aggregated_upper.a_io as a_oi,
        cast(1 as double) as a_oo
    from aggregated_upper
),

evaluated as (
    select * from ahp_evaluated('aggregated_matrices')
),

final as (
    select
        evaluated.scope_type,
        evaluated.scope_id,
        respondent_counts.n_respondents,
        respondent_counts.n_consistent,
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
    inner join respondent_counts
        on
            evaluated.scope_type = respondent_counts.scope_type
            and evaluated.scope_id = respondent_counts.scope_id
)

select * from final
