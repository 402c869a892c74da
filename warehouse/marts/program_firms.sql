-- purpose: this run's candidate rows of the published marts.program_firms: the mentoring
--   programmes (pendampingan) the round's files name, one row per mentored firm; the
--   cross-round programme effect (warehouse/publish) reads them. Publish adds the version.
-- grain: one row per programme x mentored firm
-- key: round_id, program_id, firm_id
-- upstreams: staging.stg_programs, landing.run
with

programs as (
    select * from staging.stg_programs
),

run as (
    select * from landing.run
),

final as (
    select
        run.round_id,
        programs.program_id,
        programs.firm_id,
        programs.program_name,
        programs.organisation,
        programs.focus,
        programs.start_date,
        programs.end_date
    from programs
    cross join run
)

select * from final
