-- round_change: how each firm moved between two consecutive published rounds.
-- grain: one row per (from_round, to_round, firm_id); key: from_round, to_round, firm_id
-- upstreams: marts.firm_tcc, meta.publications (the current published version of each round)
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

ordered_rounds as (
    select
        round_id as from_round,
        version as from_version,
        lead(round_id) over (order by round_id) as to_round,
        lead(version) over (order by round_id) as to_version
    from current_versions
),

round_pairs as (
    select
        from_round,
        from_version,
        to_round,
        to_version
    from ordered_rounds
    where to_round is not null
),

final as (
    select
        round_pairs.from_round,
        round_pairs.to_round,
        later.firm_id,
        round_pairs.from_version,
        round_pairs.to_version,
        later.t - earlier.t as d_t,
        later.h - earlier.h as d_h,
        later.i - earlier.i as d_i,
        later.o - earlier.o as d_o,
        later.tcc - earlier.tcc as d_tcc,
        earlier.tcc_class as class_from,
        later.tcc_class as class_to
    from round_pairs
    inner join marts.firm_tcc as earlier
        on
            round_pairs.from_round = earlier.round_id
            and round_pairs.from_version = earlier.version
    inner join marts.firm_tcc as later
        on
            round_pairs.to_round = later.round_id
            and round_pairs.to_version = later.version
            and earlier.firm_id = later.firm_id
)

select * from final
