-- purpose: the mentoring programmes named in the round's files (method.md section 10), typed
--   as landed; the cross-round programme effect is built at publication.
-- grain: one row per programme x mentored firm
-- key: program_id, firm_id
-- upstreams: landing.programs
with

landing_programs as (
    select * from landing.programs
),

final as (
    select
        landing_programs.program_id,
        landing_programs.program_name,
        landing_programs.firm_id,
        landing_programs.organisation,
        landing_programs.focus,
        landing_programs.start_date,
        landing_programs.end_date,
        landing_programs._file as source_file,
        landing_programs._row as source_row
    from landing_programs
)

select * from final
