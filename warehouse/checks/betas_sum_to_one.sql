-- check: every firm's betas sum to 1 (1e-9 is far above the rounding of four additions and
-- far below any real error). Returns the violating firms.
with

firm_tcc as (
    select * from marts.firm_tcc
),

violations as (
    select
        firm_tcc.firm_id,
        firm_tcc.beta_source,
        firm_tcc.beta_t + firm_tcc.beta_h + firm_tcc.beta_i + firm_tcc.beta_o as beta_sum
    from firm_tcc
    where
        abs(firm_tcc.beta_t + firm_tcc.beta_h + firm_tcc.beta_i + firm_tcc.beta_o - 1) > 1e-9
        or least(firm_tcc.beta_t, firm_tcc.beta_h, firm_tcc.beta_i, firm_tcc.beta_o) <= 0
        or firm_tcc.beta_t is null
        or firm_tcc.beta_h is null
        or firm_tcc.beta_i is null
        or firm_tcc.beta_o is null
)

select * from violations
