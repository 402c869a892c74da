-- purpose: the improvement priority (method.md section 8) as an aggregate expression: the
--   components of a group of rows (a firm, or a firm group) ranked for upgrading, joined as
--   "I,T,O,H". Both int_firms__scored and tcc_by_group call it, so the rule lives here only.
-- call: priority_order(component, component_order, contribution, beta, rule, decimals)
--   inside a query grouped by the entity; rule and decimals come from methodology.parameters.
-- rules: lowest_contribution (C ascending), highest_intensity (beta descending),
--   weighted_gap (beta * (1 - C) descending). Keys are compared rounded to `decimals` so that
--   values equal but for floating-point noise tie, and ties go in component order.
create or replace macro priority_key(rule, decimals, contribution, beta) as (
    case rule
        when 'lowest_contribution' then round(contribution, cast(decimals as integer))
        when 'highest_intensity' then -round(beta, cast(decimals as integer))
        when 'weighted_gap' then -round(beta * (1 - contribution), cast(decimals as integer))
    end
);

create or replace macro priority_order(
    component, component_order, contribution, beta, rule, decimals
) as string_agg(
    component, ','
    order by priority_key(rule, decimals, contribution, beta), component_order
);
