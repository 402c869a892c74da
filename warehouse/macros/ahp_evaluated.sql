-- purpose: evaluate 4x4 pairwise comparison matrices (AHP, method.md section 5): betas,
--   lambda_max, ci, cr and whether the matrix is consistent. This table macro is the only
--   place the eigen computation lives: respondent matrices and AIJ aggregates both call it.
-- call: select * from ahp_evaluated('relation_or_cte_name')
-- input: any key columns plus the 16 cells a_tt .. a_oo (row component first, T, H, I, O).
--   Names used inside, which must not be input columns: matrix_number, squarings_left,
--   entry_sum, p_*, eigen_*, geometric_*, weight_*, ahp_method.
-- output: the input's columns plus beta_t, beta_h, beta_i, beta_o, lambda_max, ci, cr,
--   consistent; one row per input row.
-- method: eigenvector (default) takes the principal right eigenvector, normalised to sum 1,
--   from the row sums of A^(2^k) after power_squarings squarings; geometric_mean takes the
--   normalised row geometric means. lambda_max = mean_i (A b)_i / b_i, CI = (lambda_max - n)
--   / (n - 1), CR = CI / RI(n); consistent when CR (rounded like every boundary of the
--   method, section 7) <= cr_threshold.
-- upstreams: methodology.parameters, methodology.components, methodology.random_index
create or replace macro ahp_evaluated(matrices) as table
    with recursive

    ahp_parameters as (
        select
            parameters.ahp_method,
            parameters.power_squarings,
            parameters.cr_threshold,
            -- round() takes an integer precision; the table stores a bigint
            cast(parameters.classification_decimals as integer) as classification_decimals,
            -- the matrix order n is the number of components (the methodology fixes T, H, I, O)
            (select count(*) from methodology.components) as matrix_order
        from methodology.parameters
    ),

    ahp_random_index as (
        select random_index.ri
        from methodology.random_index
        inner join ahp_parameters on random_index.n = ahp_parameters.matrix_order
    ),

    -- each input matrix numbered, so that only its number and the power's cells go through
    -- the squarings (the recursion keeps every step's rows: narrow rows cost less)
    numbered_matrices as materialized (
        select
            input_matrices.*,
            row_number() over () as matrix_number
        -- matrices is the macro's parameter: the name of the caller's relation
        from query_table(matrices) as input_matrices  -- noqa: RF02, RF03
    ),

    -- A^(2^k) by repeated squaring. Each square is divided by the square of the previous
    -- entry sum so that values stay near 1 (a positive scale leaves the principal direction
    -- unchanged); the entry sum of a square is sum_k (column k sum) * (row k sum).
    ahp_powers as (
        select
            numbered_matrices.matrix_number,
            ahp_parameters.power_squarings as squarings_left,
            cast(
                numbered_matrices.a_tt + numbered_matrices.a_th
                + numbered_matrices.a_ti + numbered_matrices.a_to
                + numbered_matrices.a_ht + numbered_matrices.a_hh
                + numbered_matrices.a_hi + numbered_matrices.a_ho
                + numbered_matrices.a_it + numbered_matrices.a_ih
                + numbered_matrices.a_ii + numbered_matrices.a_io
                + numbered_matrices.a_ot + numbered_matrices.a_oh
                + numbered_matrices.a_oi + numbered_matrices.a_oo
                as double
            ) as entry_sum,
            cast(numbered_matrices.a_tt as double) as p_tt,
            cast(numbered_matrices.a_th as double) as p_th,
            cast(numbered_matrices.a_ti as double) as p_ti,
            cast(numbered_matrices.a_to as double) as p_to,
            cast(numbered_matrices.a_ht as double) as p_ht,
            cast(numbered_matrices.a_hh as double) as p_hh,
            cast(numbered_matrices.a_hi as double) as p_hi,
            cast(numbered_matrices.a_ho as double) as p_ho,
            cast(numbered_matrices.a_it as double) as p_it,
            cast(numbered_matrices.a_ih as double) as p_ih,
            cast(numbered_matrices.a_ii as double) as p_ii,
            cast(numbered_matrices.a_io as double) as p_io,
            cast(numbered_matrices.a_ot as double) as p_ot,
            cast(numbered_matrices.a_oh as double) as p_oh,
            cast(numbered_matrices.a_oi as double) as p_oi,
            cast(numbered_matrices.a_oo as double) as p_oo
        from numbered_matrices
        cross join ahp_parameters

        union all

        select
            * replace (
                squarings_left - 1 as squarings_left,
                (
                    (p_tt + p_ht + p_it + p_ot) * (p_tt + p_th + p_ti + p_to)
                    + (p_th + p_hh + p_ih + p_oh) * (p_ht + p_hh + p_hi + p_ho)
                    + (p_ti + p_hi + p_ii + p_oi) * (p_it + p_ih + p_ii + p_io)
                    + (p_to + p_ho + p_io + p_oo) * (p_ot + p_oh + p_oi + p_oo)
                ) / (entry_sum * entry_sum) as entry_sum,
                (p_tt * p_tt + p_th * p_ht + p_ti * p_it + p_to * p_ot)
                / (entry_sum * entry_sum) as p_tt,
                (p_tt * p_th + p_th * p_hh + p_ti * p_ih + p_to * p_oh)
                / (entry_sum * entry_sum) as p_th,
                (p_tt * p_ti + p_th * p_hi + p_ti * p_ii + p_to * p_oi)
                / (entry_sum * entry_sum) as p_ti,
                (p_tt * p_to + p_th * p_ho + p_ti * p_io + p_to * p_oo)
                / (entry_sum * entry_sum) as p_to,
                (p_ht * p_tt + p_hh * p_ht + p_hi * p_it + p_ho * p_ot)
                / (entry_sum * entry_sum) as p_ht,
                (p_ht * p_th + p_hh * p_hh + p_hi * p_ih + p_ho * p_oh)
                / (entry_sum * entry_sum) as p_hh,
                (p_ht * p_ti + p_hh * p_hi + p_hi * p_ii + p_ho * p_oi)
                / (entry_sum * entry_sum) as p_hi,
                (p_ht * p_to + p_hh * p_ho + p_hi * p_io + p_ho * p_oo)
                / (entry_sum * entry_sum) as p_ho,
                (p_it * p_tt + p_ih * p_ht + p_ii * p_it + p_io * p_ot)
                / (entry_sum * entry_sum) as p_it,
                (p_it * p_th + p_ih * p_hh + p_ii * p_ih + p_io * p_oh)
                / (entry_sum * entry_sum) as p_ih,
                (p_it * p_ti + p_ih * p_hi + p_ii * p_ii + p_io * p_oi)
                / (entry_sum * entry_sum) as p_ii,
                (p_it * p_to + p_ih * p_ho + p_ii * p_io + p_io * p_oo)
                / (entry_sum * entry_sum) as p_io,
                (p_ot * p_tt + p_oh * p_ht + p_oi * p_it + p_oo * p_ot)
                / (entry_sum * entry_sum) as p_ot,
                (p_ot * p_th + p_oh * p_hh + p_oi * p_ih + p_oo * p_oh)
                / (entry_sum * entry_sum) as p_oh,
                (p_ot * p_ti + p_oh * p_hi + p_oi * p_ii + p_oo * p_oi)
                / (entry_sum * entry_sum) as p_oi,
                (p_ot * p_to + p_oh * p_ho + p_oi * p_io + p_oo * p_oo)
                / (entry_sum * entry_sum) as p_oo
            )
        from ahp_powers
        where squarings_left > 0
    ),

    -- the converged power is (a multiple of) b w' so its row sums are proportional to the
    -- principal right eigenvector b; the row geometric means serve the geometric_mean method
    row_weights as (
        select
            numbered_matrices.*,
            ahp_powers.* exclude (ahp_powers.matrix_number),
            ahp_parameters.ahp_method,
            ahp_powers.p_tt + ahp_powers.p_th + ahp_powers.p_ti + ahp_powers.p_to as eigen_t,
            ahp_powers.p_ht + ahp_powers.p_hh + ahp_powers.p_hi + ahp_powers.p_ho as eigen_h,
            ahp_powers.p_it + ahp_powers.p_ih + ahp_powers.p_ii + ahp_powers.p_io as eigen_i,
            ahp_powers.p_ot + ahp_powers.p_oh + ahp_powers.p_oi + ahp_powers.p_oo as eigen_o,
            exp((
                ln(numbered_matrices.a_tt) + ln(numbered_matrices.a_th)
                + ln(numbered_matrices.a_ti) + ln(numbered_matrices.a_to)
            ) / ahp_parameters.matrix_order) as geometric_t,
            exp((
                ln(numbered_matrices.a_ht) + ln(numbered_matrices.a_hh)
                + ln(numbered_matrices.a_hi) + ln(numbered_matrices.a_ho)
            ) / ahp_parameters.matrix_order) as geometric_h,
            exp((
                ln(numbered_matrices.a_it) + ln(numbered_matrices.a_ih)
                + ln(numbered_matrices.a_ii) + ln(numbered_matrices.a_io)
            ) / ahp_parameters.matrix_order) as geometric_i,
            exp((
                ln(numbered_matrices.a_ot) + ln(numbered_matrices.a_oh)
                + ln(numbered_matrices.a_oi) + ln(numbered_matrices.a_oo)
            ) / ahp_parameters.matrix_order) as geometric_o
        from ahp_powers
        inner join numbered_matrices
            on ahp_powers.matrix_number = numbered_matrices.matrix_number
        cross join ahp_parameters
        where ahp_powers.squarings_left = 0
    ),

    chosen_weights as (
        select
            row_weights.*,
            case
                when row_weights.ahp_method = 'geometric_mean' then row_weights.geometric_t
                else row_weights.eigen_t
            end as weight_t,
            case
                when row_weights.ahp_method = 'geometric_mean' then row_weights.geometric_h
                else row_weights.eigen_h
            end as weight_h,
            case
                when row_weights.ahp_method = 'geometric_mean' then row_weights.geometric_i
                else row_weights.eigen_i
            end as weight_i,
            case
                when row_weights.ahp_method = 'geometric_mean' then row_weights.geometric_o
                else row_weights.eigen_o
            end as weight_o
        from row_weights
    ),

    -- normalised to sum 1
    betas as (
        select
            chosen_weights.*,
            chosen_weights.weight_t / (
                chosen_weights.weight_t + chosen_weights.weight_h
                + chosen_weights.weight_i + chosen_weights.weight_o
            ) as beta_t,
            chosen_weights.weight_h / (
                chosen_weights.weight_t + chosen_weights.weight_h
                + chosen_weights.weight_i + chosen_weights.weight_o
            ) as beta_h,
            chosen_weights.weight_i / (
                chosen_weights.weight_t + chosen_weights.weight_h
                + chosen_weights.weight_i + chosen_weights.weight_o
            ) as beta_i,
            chosen_weights.weight_o / (
                chosen_weights.weight_t + chosen_weights.weight_h
                + chosen_weights.weight_i + chosen_weights.weight_o
            ) as beta_o
        from chosen_weights
    ),

    -- lambda_max = mean over i of (A b)_i / b_i
    eigenvalues as (
        select
            betas.*,
            (
                (
                    betas.a_tt * betas.beta_t + betas.a_th * betas.beta_h
                    + betas.a_ti * betas.beta_i + betas.a_to * betas.beta_o
                ) / betas.beta_t
                + (
                    betas.a_ht * betas.beta_t + betas.a_hh * betas.beta_h
                    + betas.a_hi * betas.beta_i + betas.a_ho * betas.beta_o
                ) / betas.beta_h
                + (
                    betas.a_it * betas.beta_t + betas.a_ih * betas.beta_h
                    + betas.a_ii * betas.beta_i + betas.a_io * betas.beta_o
                ) / betas.beta_i
                + (
                    betas.a_ot * betas.beta_t + betas.a_oh * betas.beta_h
                    + betas.a_oi * betas.beta_i + betas.a_oo * betas.beta_o
                ) / betas.beta_o
            ) / ahp_parameters.matrix_order as lambda_max
        from betas
        cross join ahp_parameters
    ),

    consistency as (
        select
            eigenvalues.*,
            (eigenvalues.lambda_max - ahp_parameters.matrix_order)
            / (ahp_parameters.matrix_order - 1) as ci,
            (eigenvalues.lambda_max - ahp_parameters.matrix_order)
            / (ahp_parameters.matrix_order - 1) / ahp_random_index.ri as cr
        from eigenvalues
        cross join ahp_parameters
        cross join ahp_random_index
    ),

    final as (
        select
            consistency.* exclude (
                consistency.matrix_number,
                consistency.squarings_left,
                consistency.entry_sum,
                consistency.p_tt,
                consistency.p_th,
                consistency.p_ti,
                consistency.p_to,
                consistency.p_ht,
                consistency.p_hh,
                consistency.p_hi,
                consistency.p_ho,
                consistency.p_it,
                consistency.p_ih,
                consistency.p_ii,
                consistency.p_io,
                consistency.p_ot,
                consistency.p_oh,
                consistency.p_oi,
                consistency.p_oo,
                consistency.eigen_t,
                consistency.eigen_h,
                consistency.eigen_i,
                consistency.eigen_o,
                consistency.geometric_t,
                consistency.geometric_h,
                consistency.geometric_i,
                consistency.geometric_o,
                consistency.weight_t,
                consistency.weight_h,
                consistency.weight_i,
                consistency.weight_o,
                consistency.ahp_method
            ),
            round(consistency.cr, ahp_parameters.classification_decimals)
            <= ahp_parameters.cr_threshold as consistent
        from consistency
        cross join ahp_parameters
    )

    -- the columns are the caller's: this macro passes through whatever keys it is given
    select * from final;  -- noqa: AM04
