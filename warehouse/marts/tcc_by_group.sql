-- purpose: this run's candidate rows of the published marts.tcc_by_group, the technometric
--   map (method.md section 9): per group (all, sector, region, sector x region) the number
--   of firms, TCC mean / median / quartiles / min / max, mean components and betas, counts
--   and shares per class, the group's priority (from its mean components and betas) and per
--   component the share of firms whose first priority it is. When the round has
--   sample_weight, means and shares are weighted; n, counts, median, quartiles, min and max
--   stay unweighted.
-- grain: one row per group
-- key: round_id, group_type, sector_code, region_code (group_code is unique per group_type)
-- upstreams: intermediate.int_firms__scored, methodology.parameters,
--   landing.run, macros priority_order and tcc_class_of
with

firms_scored as (
    select * from intermediate.int_firms__scored
),

parameters as (
    select * from methodology.parameters
),

run as (
    select * from landing.run
),

-- validation gives every firm a sample_weight or none, so the round is weighted or not
weighting as (
    select bool_or(firms_scored.sample_weight is not null) as weighted
    from firms_scored
),

-- only the columns the statistics read: the four groups repeat every firm
weighted_firms as (
    select
        firms_scored.sector_code,
        firms_scored.region_code,
        firms_scored.t,
        firms_scored.h,
        firms_scored.i,
        firms_scored.o,
        firms_scored.beta_t,
        firms_scored.beta_h,
        firms_scored.beta_i,
        firms_scored.beta_o,
        firms_scored.tcc,
        firms_scored.tcc_class,
        weighting.weighted,
        case
            when weighting.weighted then firms_scored.sample_weight
            else cast(1 as double)
        end as weight,
        split_part(firms_scored.priority, ',', 1) as first_priority
    from firms_scored
    cross join weighting
),

-- every firm in its four groups
memberships as (
    select
        'all' as group_type,
        'all' as group_code,
        null as sector_code,
        null as region_code,
        weighted_firms.* exclude (sector_code, region_code)
    from weighted_firms

    union all

    select
        'sector' as group_type,
        weighted_firms.sector_code as group_code,
        weighted_firms.sector_code,
        null as region_code,
        weighted_firms.* exclude (sector_code, region_code)
    from weighted_firms

    union all

    select
        'region' as group_type,
        weighted_firms.region_code as group_code,
        null as sector_code,
        weighted_firms.region_code,
        weighted_firms.* exclude (sector_code, region_code)
    from weighted_firms

    union all

    select
        'sector_region' as group_type,
        weighted_firms.sector_code || '|' || weighted_firms.region_code as group_code,
        weighted_firms.sector_code,
        weighted_firms.region_code,
        weighted_firms.* exclude (sector_code, region_code)
    from weighted_firms
),

-- the class and component columns are fixed by the published contract
group_statistics as (
    select
        memberships.group_type,
        memberships.group_code,
        any_value(memberships.sector_code) as sector_code,
        any_value(memberships.region_code) as region_code,
        count(*) as n_firms,
        bool_or(memberships.weighted) as weighted,
        sum(memberships.weight) as weight_sum,
        sum(memberships.weight * memberships.tcc) / sum(memberships.weight) as tcc_mean,
        quantile_cont(memberships.tcc, 0.5) as tcc_median,
        quantile_cont(memberships.tcc, 0.25) as tcc_p25,
        quantile_cont(memberships.tcc, 0.75) as tcc_p75,
        min(memberships.tcc) as tcc_min,
        max(memberships.tcc) as tcc_max,
        sum(memberships.weight * memberships.t) / sum(memberships.weight) as t_mean,
        sum(memberships.weight * memberships.h) / sum(memberships.weight) as h_mean,
        sum(memberships.weight * memberships.i) / sum(memberships.weight) as i_mean,
        sum(memberships.weight * memberships.o) / sum(memberships.weight) as o_mean,
        sum(memberships.weight * memberships.beta_t) / sum(memberships.weight) as beta_t_mean,
        sum(memberships.weight * memberships.beta_h) / sum(memberships.weight) as beta_h_mean,
        sum(memberships.weight * memberships.beta_i) / sum(memberships.weight) as beta_i_mean,
        sum(memberships.weight * memberships.beta_o) / sum(memberships.weight) as beta_o_mean,
        count(*) filter (where memberships.tcc_class = 'very_low') as n_very_low,
        count(*) filter (where memberships.tcc_class = 'low') as n_low,
        count(*) filter (where memberships.tcc_class = 'fair') as n_fair,
        count(*) filter (where memberships.tcc_class = 'good') as n_good,
        count(*) filter (where memberships.tcc_class = 'very_good') as n_very_good,
        count(*) filter (where memberships.tcc_class = 'state_of_the_art') as n_state_of_the_art,
        coalesce(sum(memberships.weight) filter (where memberships.tcc_class = 'very_low'), 0)
        / sum(memberships.weight) as share_very_low,
        coalesce(sum(memberships.weight) filter (where memberships.tcc_class = 'low'), 0)
        / sum(memberships.weight) as share_low,
        coalesce(sum(memberships.weight) filter (where memberships.tcc_class = 'fair'), 0)
        / sum(memberships.weight) as share_fair,
        coalesce(sum(memberships.weight) filter (where memberships.tcc_class = 'good'), 0)
        / sum(memberships.weight) as share_good,
        coalesce(sum(memberships.weight) filter (where memberships.tcc_class = 'very_good'), 0)
        / sum(memberships.weight) as share_very_good,
        coalesce(
            sum(memberships.weight) filter (where memberships.tcc_class = 'state_of_the_art'), 0
        ) / sum(memberships.weight) as share_state_of_the_art,
        coalesce(sum(memberships.weight) filter (where memberships.first_priority = 'T'), 0)
        / sum(memberships.weight) as first_priority_share_t,
        coalesce(sum(memberships.weight) filter (where memberships.first_priority = 'H'), 0)
        / sum(memberships.weight) as first_priority_share_h,
        coalesce(sum(memberships.weight) filter (where memberships.first_priority = 'I'), 0)
        / sum(memberships.weight) as first_priority_share_i,
        coalesce(sum(memberships.weight) filter (where memberships.first_priority = 'O'), 0)
        / sum(memberships.weight) as first_priority_share_o
    from memberships
    group by memberships.group_type, memberships.group_code
),

group_priorities as (
    select
        group_statistics.group_type,
        group_statistics.group_code,
        priority_order(
            group_statistics.t_mean,
            group_statistics.h_mean,
            group_statistics.i_mean,
            group_statistics.o_mean,
            group_statistics.beta_t_mean,
            group_statistics.beta_h_mean,
            group_statistics.beta_i_mean,
            group_statistics.beta_o_mean,
            parameters.priority_rule,
            parameters.classification_decimals
        ) as priority
    from group_statistics
    cross join parameters
),

final as (
    select
        run.round_id,
        group_statistics.group_type,
        group_statistics.group_code,
        group_statistics.sector_code,
        group_statistics.region_code,
        group_statistics.n_firms,
        group_statistics.weighted,
        group_statistics.weight_sum,
        group_statistics.tcc_mean,
        tcc_class_of(group_statistics.tcc_mean) as tcc_mean_class,
        group_statistics.tcc_median,
        group_statistics.tcc_p25,
        group_statistics.tcc_p75,
        group_statistics.tcc_min,
        group_statistics.tcc_max,
        group_statistics.t_mean,
        group_statistics.h_mean,
        group_statistics.i_mean,
        group_statistics.o_mean,
        group_statistics.beta_t_mean,
        group_statistics.beta_h_mean,
        group_statistics.beta_i_mean,
        group_statistics.beta_o_mean,
        group_statistics.n_very_low,
        group_statistics.n_low,
        group_statistics.n_fair,
        group_statistics.n_good,
        group_statistics.n_very_good,
        group_statistics.n_state_of_the_art,
        group_statistics.share_very_low,
        group_statistics.share_low,
        group_statistics.share_fair,
        group_statistics.share_good,
        group_statistics.share_very_good,
        group_statistics.share_state_of_the_art,
        group_priorities.priority,
        group_statistics.first_priority_share_t,
        group_statistics.first_priority_share_h,
        group_statistics.first_priority_share_i,
        group_statistics.first_priority_share_o
    from group_statistics
    inner join group_priorities
        on
            group_statistics.group_type = group_priorities.group_type
            and group_statistics.group_code = group_priorities.group_code
    cross join run
)

select * from final
