-- purpose: each criterion's rating of an item as the mean over the raters who scored it
--   (method.md section 3). A rater scores a criterion once (validation rejects a repeated
--   firm, component, item, criterion and rater, a blank rater read as default_rater), so the
--   rows of a criterion are its raters: count(*) counts them without a distinct count, which
--   costs more than the whole mean over millions of ratings. Validation also rejects a
--   criterion scored under a component it does not belong to, so the criterion names the
--   component: grouping by firm, item and criterion makes the same groups as with the
--   component too, with one text key fewer to hash (a quarter of the model's cost).
-- grain: one row per firm x component x item x criterion
-- key: firm_id, component, item_id, criterion
-- upstreams: staging.stg_sota
with

sota as (
    select * from staging.stg_sota
),

final as (
    select
        sota.firm_id,
        any_value(sota.component) as component,
        sota.item_id,
        sota.criterion,
        avg(sota.score) as mean_score,
        count(*) as n_raters
    from sota
    group by sota.firm_id, sota.item_id, sota.criterion
)

select * from final
