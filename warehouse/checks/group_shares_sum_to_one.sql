-- check: in every group the class shares and the first-priority shares each sum to 1, and
-- the class counts sum to n_firms.
with

tcc_by_group as (
    select * from marts.tcc_by_group
),

violations as (
    select
        tcc_by_group.group_type,
        tcc_by_group.group_code,
        tcc_by_group.n_firms
    from tcc_by_group
    where
        abs(
            tcc_by_group.share_very_low + tcc_by_group.share_low + tcc_by_group.share_fair
            + tcc_by_group.share_good + tcc_by_group.share_very_good
            + tcc_by_group.share_state_of_the_art - 1
        ) > 1e-9
        or abs(
            tcc_by_group.first_priority_share_t + tcc_by_group.first_priority_share_h
            + tcc_by_group.first_priority_share_i + tcc_by_group.first_priority_share_o - 1
        ) > 1e-9
        or tcc_by_group.n_very_low + tcc_by_group.n_low + tcc_by_group.n_fair
        + tcc_by_group.n_good + tcc_by_group.n_very_good + tcc_by_group.n_state_of_the_art
        != tcc_by_group.n_firms
)

select * from violations
