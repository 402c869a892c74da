-- purpose: the state-of-the-art ratings with the rater defaulted (a blank rater is the
--   methodology's default_rater, so one unnamed rater and rater "1" are the same person).
-- grain: one row per firm x component x item x criterion x rater
-- key: firm_id, component, item_id, criterion, rater
-- upstreams: landing.sota, methodology.parameters
with

landing_sota as (
    select * from landing.sota
),

parameters as (
    select * from methodology.parameters
),

final as (
    select
        landing_sota.firm_id,
        landing_sota.component,
        landing_sota.item_id,
        landing_sota.criterion,
        coalesce(nullif(landing_sota.rater, ''), parameters.default_rater) as rater,
        landing_sota.score,
        landing_sota._file as source_file,
        landing_sota._row as source_row
    from landing_sota
    cross join parameters
)

select * from final
