-- purpose: the accepted firms of the round, typed as landed; provenance renamed for audits.
-- grain: one row per firm
-- key: firm_id
-- upstreams: landing.firms
with

landing_firms as (
    select * from landing.firms
),

final as (
    select
        landing_firms.firm_id,
        landing_firms.round_id,
        landing_firms.firm_name,
        landing_firms.sector_code,
        landing_firms.sector_name,
        landing_firms.region_code,
        landing_firms.region_name,
        landing_firms.size_class,
        landing_firms.workers,
        landing_firms.sample_weight,
        landing_firms.survey_date,
        landing_firms.enumerator,
        landing_firms._file as source_file,
        landing_firms._row as source_row
    from landing_firms
)

select * from final
