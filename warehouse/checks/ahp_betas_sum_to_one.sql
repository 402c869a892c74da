-- check: every evaluated AHP matrix has positive betas summing to 1 and lambda_max >= n
-- (Perron: the principal eigenvalue of a positive reciprocal matrix is at least its order),
-- up to 1e-9 of rounding.
with

ahp_matrices as (
    select * from marts.ahp_matrices
),

components as (
    select * from methodology.components
),

violations as (
    select
        ahp_matrices.scope_type,
        ahp_matrices.scope_id,
        ahp_matrices.matrix_kind,
        ahp_matrices.respondent,
        ahp_matrices.lambda_max
    from ahp_matrices
    where
        abs(
            ahp_matrices.beta_t + ahp_matrices.beta_h + ahp_matrices.beta_i
            + ahp_matrices.beta_o - 1
        ) > 1e-9
        or least(
            ahp_matrices.beta_t, ahp_matrices.beta_h, ahp_matrices.beta_i, ahp_matrices.beta_o
        ) <= 0
        or ahp_matrices.lambda_max < (select count(*) from components) - 1e-9
        or ahp_matrices.lambda_max is null
)

select * from violations
