-- purpose: what each mentoring programme (pendampingan) changed, method.md section 10: the
--   mean change in TCC and in the programme's focus components of its mentored firms between
--   the last round surveyed before the programme started and the first round surveyed after
--   it ended, beside the same change of firms of the same sectors that no programme mentored
--   in that window; the difference of the two is a difference in differences (descriptive,
--   not a causal claim).
--   A round is before a programme when every survey_date of the round is on or before the
--   start_date, after it when every survey_date is on or after the end_date. A programme is
--   defined by the latest round that lists it; its mentored firms are every firm any round
--   lists for it. Means are unweighted: a programme's firms are not a survey sample.
-- grain: one row per programme and (before, after) round pair; a programme without both
--   rounds published yet has no row
-- key: program_id, from_round, to_round
-- upstreams: meta.publications, marts.firm_tcc, marts.firm_component, marts.program_firms
-- Runs in the published warehouse after a publication, not in the compute database.
with

publications as (
    select
        round_id,
        version
    from meta.publications
    where status = 'published'
),

current_versions as (
    select
        round_id,
        max(version) as version
    from publications
    group by round_id
),

firms as (
    select
        firm_tcc.round_id,
        firm_tcc.version,
        firm_tcc.firm_id,
        firm_tcc.sector_code,
        firm_tcc.tcc,
        firm_tcc.survey_date
    from marts.firm_tcc
    inner join current_versions
        on
            firm_tcc.round_id = current_versions.round_id
            and firm_tcc.version = current_versions.version
),

components as (
    select
        firm_component.round_id,
        firm_component.firm_id,
        firm_component.component,
        firm_component.contribution
    from marts.firm_component
    inner join current_versions
        on
            firm_component.round_id = current_versions.round_id
            and firm_component.version = current_versions.version
),

program_rows as (
    select
        program_firms.round_id,
        program_firms.program_id,
        program_firms.firm_id,
        program_firms.program_name,
        program_firms.organisation,
        program_firms.focus,
        program_firms.start_date,
        program_firms.end_date
    from marts.program_firms
    inner join current_versions
        on
            program_firms.round_id = current_versions.round_id
            and program_firms.version = current_versions.version
),

round_windows as (
    select
        round_id,
        any_value(version) as version,
        min(survey_date) as first_survey,
        max(survey_date) as last_survey
    from firms
    group by round_id
),

programs as (
    select
        program_id,
        arg_max(program_name, round_id) as program_name,
        arg_max(organisation, round_id) as organisation,
        arg_max(focus, round_id) as focus,
        arg_max(start_date, round_id) as start_date,
        arg_max(end_date, round_id) as end_date
    from program_rows
    group by program_id
),

members as (
    select distinct
        program_id,
        firm_id
    from program_rows
),

program_rounds as (
    select
        programs.program_id,
        arg_max(round_windows.round_id, round_windows.last_survey) filter (
            where round_windows.last_survey <= programs.start_date
        ) as from_round,
        arg_min(round_windows.round_id, round_windows.first_survey) filter (
            where round_windows.first_survey >= programs.end_date
        ) as to_round
    from programs
    cross join round_windows
    group by programs.program_id
),

program_windows as (
    select
        programs.program_id,
        programs.program_name,
        programs.organisation,
        programs.focus,
        programs.start_date,
        programs.end_date,
        program_rounds.from_round,
        program_rounds.to_round,
        before_round.version as from_version,
        after_round.version as to_version,
        before_round.last_survey as window_start,
        after_round.first_survey as window_end
    from programs
    inner join program_rounds
        on programs.program_id = program_rounds.program_id
    inner join round_windows as before_round
        on program_rounds.from_round = before_round.round_id
    inner join round_windows as after_round
        on program_rounds.to_round = after_round.round_id
),

focus_components as (
    select
        program_id,
        unnest(string_split(focus, ',')) as component
    from programs
),

firm_changes as (
    select
        program_windows.program_id,
        earlier.firm_id,
        earlier.sector_code,
        later.tcc - earlier.tcc as d_tcc
    from program_windows
    inner join firms as earlier
        on program_windows.from_round = earlier.round_id
    inner join firms as later
        on
            program_windows.to_round = later.round_id
            and earlier.firm_id = later.firm_id
),

focus_changes as (
    select
        program_windows.program_id,
        earlier.firm_id,
        avg(later.contribution - earlier.contribution) as d_focus
    from program_windows
    inner join focus_components
        on program_windows.program_id = focus_components.program_id
    inner join components as earlier
        on
            program_windows.from_round = earlier.round_id
            and focus_components.component = earlier.component
    inner join components as later
        on
            program_windows.to_round = later.round_id
            and earlier.firm_id = later.firm_id
            and earlier.component = later.component
    group by program_windows.program_id, earlier.firm_id
),

-- firms some programme (this one or another) mentored during a programme's window
mentored_in_window as (
    select distinct
        program_windows.program_id,
        members.firm_id
    from program_windows
    inner join programs as other_programs
        on
            program_windows.window_end >= other_programs.start_date
            and program_windows.window_start <= other_programs.end_date
    inner join members
        on other_programs.program_id = members.program_id
),

mentored as (
    select
        firm_changes.program_id,
        firm_changes.firm_id,
        firm_changes.sector_code,
        firm_changes.d_tcc
    from firm_changes
    inner join members
        on
            firm_changes.program_id = members.program_id
            and firm_changes.firm_id = members.firm_id
),

mentored_sectors as (
    select distinct
        program_id,
        sector_code
    from mentored
),

comparison as (
    select
        firm_changes.program_id,
        firm_changes.firm_id,
        firm_changes.d_tcc
    from firm_changes
    inner join mentored_sectors
        on
            firm_changes.program_id = mentored_sectors.program_id
            and firm_changes.sector_code = mentored_sectors.sector_code
    anti join mentored_in_window
        on
            firm_changes.program_id = mentored_in_window.program_id
            and firm_changes.firm_id = mentored_in_window.firm_id
),

mentored_summary as (
    select
        mentored.program_id,
        count(*) as n_mentored,
        avg(mentored.d_tcc) as d_tcc_mentored,
        avg(focus_changes.d_focus) as d_focus_mentored
    from mentored
    left join focus_changes
        on
            mentored.program_id = focus_changes.program_id
            and mentored.firm_id = focus_changes.firm_id
    group by mentored.program_id
),

comparison_summary as (
    select
        comparison.program_id,
        count(*) as n_comparison,
        avg(comparison.d_tcc) as d_tcc_comparison,
        avg(focus_changes.d_focus) as d_focus_comparison
    from comparison
    left join focus_changes
        on
            comparison.program_id = focus_changes.program_id
            and comparison.firm_id = focus_changes.firm_id
    group by comparison.program_id
),

final as (
    select
        program_windows.program_id,
        program_windows.from_round,
        program_windows.to_round,
        program_windows.from_version,
        program_windows.to_version,
        program_windows.program_name,
        program_windows.organisation,
        program_windows.focus,
        program_windows.start_date,
        program_windows.end_date,
        coalesce(mentored_summary.n_mentored, 0) as n_mentored,
        coalesce(comparison_summary.n_comparison, 0) as n_comparison,
        mentored_summary.d_tcc_mentored,
        comparison_summary.d_tcc_comparison,
        mentored_summary.d_tcc_mentored - comparison_summary.d_tcc_comparison as did_tcc,
        mentored_summary.d_focus_mentored,
        comparison_summary.d_focus_comparison,
        mentored_summary.d_focus_mentored
        - comparison_summary.d_focus_comparison as did_focus
    from program_windows
    left join mentored_summary
        on program_windows.program_id = mentored_summary.program_id
    left join comparison_summary
        on program_windows.program_id = comparison_summary.program_id
)

select * from final
