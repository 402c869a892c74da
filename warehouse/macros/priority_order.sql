-- purpose: the improvement priority (method.md section 8) of one entity (a firm, or a firm
--   group) from its four component contributions and betas: the components ranked for
--   upgrading, joined as "I,T,O,H". Both int_firms__scored and tcc_by_group call it, so the
--   rule lives here only.
-- call: priority_order(t, h, i, o, beta_t, beta_h, beta_i, beta_o, rule, decimals), a scalar
--   expression over one row; rule and decimals come from methodology.parameters, the
--   component order from methodology.components.
-- rules: lowest_contribution (C ascending), highest_intensity (beta descending),
--   weighted_gap (beta * (1 - C) descending). Keys are compared rounded to `decimals` so that
--   values equal but for floating-point noise tie, and ties go in component order.
-- how: the four (key, component_order, code) triples are sorted as a list (a struct sorts by
--   its fields in order), which costs far less than an ordered string_agg over grouped rows.
-- upstreams: methodology.components
create or replace macro priority_key(rule, decimals, contribution, beta) as (
    case rule
        when 'lowest_contribution' then round(contribution, cast(decimals as integer))
        when 'highest_intensity' then -round(beta, cast(decimals as integer))
        when 'weighted_gap' then -round(beta * (1 - contribution), cast(decimals as integer))
    end
);

-- the codes are fixed by the methodology (T, H, I, O); their order is its setting
create or replace macro priority_component_order(code) as (
    select components.component_order
    from methodology.components as components
    where components.component = code  -- noqa: RF02, RF03
);

create or replace macro priority_order(
    t, h, i, o, beta_t, beta_h, beta_i, beta_o, rule, decimals
) as array_to_string(
    list_transform(
        list_sort(
            [
                {
                    'rank_key': priority_key(rule, decimals, t, beta_t),
                    'component_order': priority_component_order('T'),
                    'component': 'T'
                },
                {
                    'rank_key': priority_key(rule, decimals, h, beta_h),
                    'component_order': priority_component_order('H'),
                    'component': 'H'
                },
                {
                    'rank_key': priority_key(rule, decimals, i, beta_i),
                    'component_order': priority_component_order('I'),
                    'component': 'I'
                },
                {
                    'rank_key': priority_key(rule, decimals, o, beta_o),
                    'component_order': priority_component_order('O'),
                    'component': 'O'
                }
            ]
        ),
        lambda ranked: ranked.component
    ),
    ','
);
