-- purpose: the class of a TCC value (method.md section 7): intervals (lower, upper] of
--   methodology.classes, compared on the value rounded to classification_decimals so that a
--   value on a boundary but for floating-point noise falls in the band of its exact value.
--   int_firms__scored classifies firms and tcc_by_group the mean TCC with it, so the rule
--   lives here only; a class's technology level is read from methodology.classes by its code.
-- call: tcc_class_of(tcc) -> class code.
-- (the macro argument tcc cannot be qualified, hence the noqa on its references)
create or replace macro tcc_class_of(tcc) as (
    select classes.tcc_class
    from methodology.classes as classes
    cross join methodology.parameters as method_settings
    where
        round(tcc, cast(method_settings.classification_decimals as integer)) -- noqa: RF02
        > classes.lower_bound
        and round(tcc, cast(method_settings.classification_decimals as integer)) -- noqa: RF02
        <= classes.upper_bound
);
