"""The published warehouse's tables: names, columns, types and comments.

This is shared/spec/published-tables.md as data. The publish step creates the tables from
it (with a COMMENT on every table and column) and copies each mart's columns by these names,
so a model that drops a published column fails loudly instead of publishing less.
"""

from __future__ import annotations

from dataclasses import dataclass

# Layout version of the tables below. Raise it when a release changes them in a way an older
# thio would misread or overwrite (adding a column or table does not need it: an older thio
# leaves what it does not know alone). Written to meta.schema_version on every write.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Table:
    """A published table: schema.name, its grain key and its (column, type, comment)s."""

    schema: str
    name: str
    comment: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str, str], ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [name for name, _, _ in self.columns]


def _cols(*rows: tuple[str, str, str]) -> tuple[tuple[str, str, str], ...]:
    return rows


# columns that several meta tables share
_RUN = (
    ("run_id", "varchar", "The run (meta.runs.run_id)."),
    ("round_id", "varchar", "Survey round."),
)
_RUN_FILE = (*_RUN, ("file_name", "varchar", "Input file name as given."))
_ROW_COUNTS = (
    ("rows_read", "bigint", "Data rows read."),
    ("rows_accepted", "bigint", "Rows accepted into the round."),
    ("rows_quarantined", "bigint", "Rows quarantined (see meta.quarantine)."),
    (
        "rows_duplicate",
        "bigint",
        "Exact duplicate rows collapsed into an earlier identical row of the round; "
        "rows_read = rows_accepted + rows_quarantined + rows_duplicate.",
    ),
)

_COMPONENT_WORD = {"t": "technoware", "h": "humanware", "i": "infoware", "o": "orgaware"}
_CLASSES = ("very_low", "low", "fair", "good", "very_good", "state_of_the_art")

META_TABLES = (
    Table(
        "meta",
        "publications",
        "One row per published (round_id, version); versions are immutable.",
        ("round_id", "version"),
        _cols(
            ("round_id", "varchar", "Survey round, YYYYQn or YYYY."),
            ("version", "integer", "Version of the round, 1, 2, ... in publication order."),
            ("status", "varchar", "published or retracted."),
            ("published_at", "timestamptz", "When the version was published (UTC)."),
            ("run_id", "varchar", "The run that published it (meta.runs.run_id)."),
            ("content_sha256", "varchar", "sha256 of the version's rows in canonical form."),
            ("methodology_sha256", "varchar", "sha256 of the methodology file used."),
            ("code_version", "varchar", "thio version (and git commit when known)."),
            ("input_files", "integer", "Number of input files the version was computed from."),
            ("n_firms", "integer", "Number of firms with published indicators."),
            ("reason", "varchar", "Why this version exists (first version, changed input)."),
            ("retracted_at", "timestamptz", "When the version was retracted, else null."),
            ("retract_reason", "varchar", "Why the version was retracted, else null."),
            (
                "released_by",
                "varchar",
                "Who released the held run this version was published from (thio release), "
                "else null.",
            ),
            ("release_reason", "varchar", "Why the held run was released, else null."),
        ),
    ),
    Table(
        "meta",
        "runs",
        "One row per flow run that reached the publish step.",
        ("run_id",),
        _cols(
            ("run_id", "varchar", "thio run id (the Prefect flow run id when there is one)."),
            ("flow_run_id", "varchar", "Prefect flow run id."),
            ("flow_name", "varchar", "Prefect flow name."),
            ("round_id", "varchar", "Survey round the run processed."),
            ("started_at", "timestamptz", "Run start (UTC)."),
            ("finished_at", "timestamptz", "Run end (UTC)."),
            (
                "status",
                "varchar",
                "published, unchanged, held (only warning expectations failed: thio release "
                "may publish it), released (a held run a release published), blocked or "
                "rejected.",
            ),
            ("parameters", "json", "The run's parameters."),
            ("code_version", "varchar", "thio version (and git commit when known)."),
            ("package_versions", "json", "Versions of the main libraries used."),
            # a lineage endpoint's trouble is not the run's, but an auditor who finds events
            # missing in Marquez should see why without the logs
            (
                "lineage_failures",
                "integer",
                "OpenLineage events of the run not delivered to $THIO_OPENLINEAGE_URL before "
                "the run was recorded (failed, or skipped once the run's sending budget was "
                "spent; all are in lineage/<run>.jsonl); null when no endpoint was set.",
            ),
        ),
    ),
    # The layout version a warehouse was last written with: a thio that finds a newer one
    # refuses to write (or verify) instead of writing rows a later layout reads wrongly.
    Table(
        "meta",
        "schema_version",
        "The warehouse layout version (thio.catalog.SCHEMA_VERSION) of the last write; one "
        "row. A thio older than it refuses to publish into it or verify it.",
        ("schema_version",),
        _cols(
            ("schema_version", "integer", "Layout version of the catalog the tables follow."),
            ("code_version", "varchar", "thio version that set it."),
            ("updated_at", "timestamptz", "When it was set (UTC)."),
        ),
    ),
    Table(
        "meta",
        "input_files",
        "One row per (run, input file): what was read, accepted and quarantined.",
        ("run_id", "file_name"),
        _cols(
            *_RUN_FILE,
            ("sha256", "varchar", "sha256 of the file bytes; archived as raw/<round>/<sha256>."),
            ("bytes", "bigint", "File size in bytes."),
            ("sheets", "varchar", "Contract sheets found in the file, comma separated."),
            *_ROW_COUNTS,
            ("status", "varchar", "read or rejected."),
            ("message", "varchar", "Why the file was rejected, else null."),
            (
                "notes",
                "varchar",
                "What was left aside while reading the file (a hidden sheet, rows a mapping "
                "filtered out), one line each, else null.",
            ),
        ),
    ),
    Table(
        "meta",
        "input_sheets",
        "One row per (run, input file, sheet): the row reconciliation of each sheet.",
        ("run_id", "file_name", "sheet"),
        _cols(
            *_RUN_FILE,
            ("sheet", "varchar", "Contract sheet (a CSV file's stem)."),
            *_ROW_COUNTS,
        ),
    ),
    Table(
        "meta",
        "quarantine",
        "One row per rejected cell or row, with the original value and the rule it broke.",
        ("run_id", "file_name", "sheet", "row_number", "column_name", "rule"),
        _cols(
            *_RUN_FILE,
            ("file_sha256", "varchar", "sha256 of the input file."),
            ("sheet", "varchar", "Sheet (or CSV file stem)."),
            ("row_number", "bigint", "Spreadsheet row number (the header is row 1)."),
            ("column_name", "varchar", "Column of the bad value; null for a whole-row rule."),
            ("value", "varchar", "The original cell text, verbatim."),
            ("rule", "varchar", "Short code of the rule broken."),
            ("message", "varchar", "One line saying what is wrong."),
            ("firm_id", "varchar", "Firm of the row, when known."),
        ),
    ),
    Table(
        "meta",
        "staged_files",
        "One row per file a held run staged for a release (thio release): the release "
        "publishes from these files only when each still has this sha256.",
        ("run_id", "path"),
        _cols(
            *_RUN,
            (
                "path",
                "varchar",
                "The file, relative to the data home (work/<run_id>/compute.duckdb, "
                "work/<run_id>/marts/<mart>.parquet).",
            ),
            ("sha256", "varchar", "sha256 of the file bytes when the run was held."),
            ("bytes", "bigint", "File size in bytes when the run was held."),
        ),
    ),
    Table(
        "meta",
        "validation_results",
        "One row per check run on a round.",
        ("run_id", "suite", "check_name"),
        _cols(
            *_RUN,
            ("suite", "varchar", "Suite of the check (rows, round, sql)."),
            ("check_name", "varchar", "Name of the check."),
            ("success", "boolean", "Whether the check passed."),
            ("observed", "varchar", "Observed value."),
            ("unexpected_count", "bigint", "Number of rows that failed the check."),
        ),
    ),
)

_V = (
    ("round_id", "varchar", "Survey round."),
    ("version", "integer", "Version of the round (meta.publications)."),
)

MART_TABLES = (
    Table(
        "marts",
        "firm_tcc",
        "Technology contribution of each firm: components, intensities, TCC, class, priority.",
        ("round_id", "version", "firm_id"),
        _cols(
            *_V,
            ("firm_id", "varchar", "Firm identifier, stable across rounds."),
            ("sector_code", "varchar", "KBLI sector code."),
            ("region_code", "varchar", "BPS region code."),
            *(
                (code, "double", f"{word.capitalize()} contribution, in [1/9, 1].")
                for code, word in _COMPONENT_WORD.items()
            ),
            *(
                (f"beta_{code}", "double", f"Contribution intensity of {word}; betas sum to 1.")
                for code, word in _COMPONENT_WORD.items()
            ),
            (
                "beta_source",
                "varchar",
                "firm_ahp, firm_weights, panel_ahp, panel_weights or default.",
            ),
            ("ahp_cr", "double", "Consistency ratio of the AHP matrix the betas came from."),
            ("lambda_max", "double", "Principal eigenvalue of that AHP matrix."),
            ("ahp_consistent", "boolean", "Whether that matrix's CR is within the threshold."),
            ("ahp_respondents_used", "integer", "Consistent AHP respondents aggregated."),
            ("tcc", "double", "Technology Contribution Coefficient T^bT H^bH I^bI O^bO."),
            ("tcc_class", "varchar", "very_low, low, fair, good, very_good, state_of_the_art."),
            ("technology_level", "varchar", "traditional, semi_modern or modern."),
            ("priority", "varchar", "Components in upgrade order, e.g. I,T,O,H."),
            ("sample_weight", "double", "Survey design weight (null when unweighted)."),
            ("firm_name", "varchar", "Firm name as surveyed."),
            ("sector_name", "varchar", "Sector name as surveyed."),
            ("region_name", "varchar", "Region name as surveyed."),
            ("survey_date", "date", "Date the firm was surveyed in this round."),
        ),
    ),
    Table(
        "marts",
        "firm_component",
        "One row per firm and component: contribution and its ingredients.",
        ("round_id", "version", "firm_id", "component"),
        _cols(
            *_V,
            ("firm_id", "varchar", "Firm identifier."),
            ("component", "varchar", "T, H, I or O."),
            ("contribution", "double", "Weighted mean of the items' contributions."),
            ("ll_min", "integer", "Lowest lower limit of sophistication among the items."),
            ("ul_max", "integer", "Highest upper limit of sophistication among the items."),
            ("sota", "double", "Weighted mean of the items' normalised state of the art."),
            ("n_items", "integer", "Number of items assessed."),
            ("beta", "double", "Contribution intensity of the component."),
        ),
    ),
    Table(
        "marts",
        "tcc_by_group",
        "The technometric map: TCC distribution, components and priorities per group.",
        ("round_id", "version", "group_type", "sector_code", "region_code"),
        _cols(
            *_V,
            ("group_type", "varchar", "all, sector, region or sector_region."),
            ("group_code", "varchar", "all, the sector, the region or sector|region."),
            ("sector_code", "varchar", "Sector of the group; null when the type has none."),
            ("region_code", "varchar", "Region of the group; null when the type has none."),
            ("n_firms", "integer", "Number of firms (unweighted)."),
            ("weighted", "boolean", "Whether means and shares use sample_weight."),
            ("weight_sum", "double", "Sum of the weights (n_firms when unweighted)."),
            ("tcc_mean", "double", "(Weighted) mean TCC."),
            ("tcc_mean_class", "varchar", "Class of the mean TCC."),
            ("tcc_median", "double", "Median TCC (unweighted, linear interpolation)."),
            ("tcc_p25", "double", "25th percentile of TCC (unweighted, linear)."),
            ("tcc_p75", "double", "75th percentile of TCC (unweighted, linear)."),
            ("tcc_min", "double", "Smallest TCC."),
            ("tcc_max", "double", "Largest TCC."),
            *(
                (f"{code}_mean", "double", f"(Weighted) mean {word} contribution.")
                for code, word in _COMPONENT_WORD.items()
            ),
            *(
                (f"beta_{code}_mean", "double", f"(Weighted) mean intensity of {word}.")
                for code, word in _COMPONENT_WORD.items()
            ),
            *((f"n_{band}", "integer", f"Firms of class {band}.") for band in _CLASSES),
            *(
                (f"share_{band}", "double", f"(Weighted) share of firms of class {band}.")
                for band in _CLASSES
            ),
            ("priority", "varchar", "Group priority from mean components and mean betas."),
            *(
                (
                    f"first_priority_share_{code}",
                    "double",
                    f"(Weighted) share of firms whose first priority is {word}.",
                )
                for code, word in _COMPONENT_WORD.items()
            ),
        ),
    ),
)

_CELLS = tuple(f"a_{row}{col}" for row in "thio" for col in "thio")

MART_TABLES = (
    *MART_TABLES,
    Table(
        "marts",
        "ahp_matrices",
        "Every AHP matrix of the round: each respondent's and each scope's aggregate (AIJ).",
        ("round_id", "version", "scope_type", "scope_id", "matrix_kind", "respondent"),
        _cols(
            *_V,
            ("scope_type", "varchar", "firm or panel."),
            ("scope_id", "varchar", "The firm_id, or the panel's sector_code."),
            ("matrix_kind", "varchar", "respondent or aggregate."),
            ("respondent", "varchar", "Who judged (null for an aggregate)."),
            ("n_respondents", "integer", "Respondents of the scope."),
            ("n_consistent", "integer", "Consistent respondents of the scope."),
            *(
                (cell, "double", f"Matrix cell row {cell[2].upper()}, column {cell[3].upper()}.")
                for cell in _CELLS
            ),
            *(
                (f"beta_{code}", "double", f"Principal eigenvector entry of {word}.")
                for code, word in _COMPONENT_WORD.items()
            ),
            ("lambda_max", "double", "Principal eigenvalue."),
            ("ci", "double", "Consistency index (lambda_max - n) / (n - 1)."),
            ("cr", "double", "Consistency ratio CI / RI."),
            ("consistent", "boolean", "CR within the methodology's threshold."),
            ("used", "boolean", "Whether the matrix fed a firm's betas or an aggregate."),
            ("n_firms_using", "integer", "Firms whose betas came from this matrix."),
        ),
    ),
)

MART_TABLES = (
    *MART_TABLES,
    Table(
        "marts",
        "program_firms",
        "Mentoring programmes (pendampingan) the round's files name: one row per mentored firm.",
        ("round_id", "version", "program_id", "firm_id"),
        _cols(
            *_V,
            ("program_id", "varchar", "Programme identifier."),
            ("firm_id", "varchar", "The mentored firm (need not be surveyed in this round)."),
            ("program_name", "varchar", "Programme name."),
            ("organisation", "varchar", "Who mentored (intermediary, agency)."),
            ("focus", "varchar", "Components the programme addressed, e.g. T,H."),
            ("start_date", "date", "First day of the programme."),
            ("end_date", "date", "Last day of the programme."),
        ),
    ),
)

_FOCUS = "the mean change of the focus components' contributions"

CROSS_ROUND_TABLES = (
    Table(
        "marts",
        "round_change",
        "Change of each firm present in two consecutive published rounds (latest versions).",
        ("from_round", "to_round", "firm_id"),
        _cols(
            ("from_round", "varchar", "Earlier round."),
            ("to_round", "varchar", "Later round."),
            ("firm_id", "varchar", "Firm identifier."),
            ("from_version", "integer", "Version of the earlier round used."),
            ("to_version", "integer", "Version of the later round used."),
            *(
                (f"d_{code}", "double", f"Change in {word} contribution.")
                for code, word in _COMPONENT_WORD.items()
            ),
            ("d_tcc", "double", "Change in TCC."),
            ("class_from", "varchar", "Class in the earlier round."),
            ("class_to", "varchar", "Class in the later round."),
        ),
    ),
    Table(
        "marts",
        "program_effect",
        "Change of mentored firms vs. not-mentored firms of the same sectors across each "
        "programme (difference in differences; descriptive, not causal).",
        ("program_id", "from_round", "to_round"),
        _cols(
            ("program_id", "varchar", "Programme identifier."),
            (
                "from_round",
                "varchar",
                "Last round whose survey dates are all on or before the programme's start.",
            ),
            (
                "to_round",
                "varchar",
                "First round whose survey dates are all on or after the programme's end.",
            ),
            ("from_version", "integer", "Version of the earlier round used."),
            ("to_version", "integer", "Version of the later round used."),
            ("program_name", "varchar", "Programme name (as the latest round lists it)."),
            ("organisation", "varchar", "Who mentored."),
            ("focus", "varchar", "Components the programme addressed, e.g. T,H."),
            ("start_date", "date", "First day of the programme."),
            ("end_date", "date", "Last day of the programme."),
            ("n_mentored", "integer", "Mentored firms surveyed in both rounds."),
            (
                "n_comparison",
                "integer",
                "Firms of the mentored firms' sectors surveyed in both rounds that no "
                "programme mentored between them.",
            ),
            ("d_tcc_mentored", "double", "Mean change in TCC of the mentored firms."),
            ("d_tcc_comparison", "double", "Mean change in TCC of the comparison firms."),
            ("did_tcc", "double", "d_tcc_mentored - d_tcc_comparison."),
            ("d_focus_mentored", "double", f"Mentored firms: {_FOCUS}."),
            ("d_focus_comparison", "double", f"Comparison firms: {_FOCUS}."),
            ("did_focus", "double", "d_focus_mentored - d_focus_comparison."),
        ),
    ),
)

ALL_TABLES = META_TABLES + MART_TABLES + CROSS_ROUND_TABLES


def table(qualified: str) -> Table:
    """The catalog entry of ``schema.name``."""
    for entry in ALL_TABLES:
        if entry.qualified == qualified:
            return entry
    raise KeyError(qualified)
