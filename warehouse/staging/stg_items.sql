-- purpose: the assessed items with the item weight defaulted (method.md section 4: a blank
--   weight is 1, so an unweighted firm gets the plain mean of its items).
-- grain: one row per firm x component x item
-- key: firm_id, component, item_id
-- upstreams: landing.items
with

landing_items as (
    select * from landing.items
),

final as (
    select
        landing_items.firm_id,
        landing_items.component,
        landing_items.item_id,
        landing_items.item_name,
        coalesce(landing_items.weight, cast(1 as double)) as weight,
        landing_items.ll,
        landing_items.ul,
        landing_items._file as source_file,
        landing_items._row as source_row
    from landing_items
)

select * from final
