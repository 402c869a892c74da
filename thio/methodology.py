"""The methodology file: every setting of the technometric method, loaded and checked.

The SQL in ``warehouse/`` reads the settings from the ``methodology`` schema that
:func:`install_methodology` writes into a DuckDB connection, so that no value is ever
formatted into SQL text.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thio.errors import ThioError
from thio.yamlfile import InvalidYaml, load_yaml

DEFAULT_METHODOLOGY = Path(__file__).resolve().parent.parent / "methodology.yaml"
COMPONENT_ORDER = ("T", "H", "I", "O")
AHP_METHODS = ("eigenvector", "geometric_mean")
PRIORITY_RULES = ("lowest_contribution", "highest_intensity", "weighted_gap")


@dataclass(frozen=True)
class IngestLimits:
    """Limits on an input workbook's zip container, checked before any part is parsed.

    The defaults apply when the methodology file has no ``ingest_limits`` block (or lacks a
    key of it); the shipped ``methodology.yaml`` sets every one.
    """

    max_uncompressed_bytes: int = 1 << 30  # all parts together
    max_compression_ratio: float = 100.0  # uncompressed / compressed size of one part
    min_ratio_check_bytes: int = 1 << 20  # smaller parts are not judged by their ratio
    max_zip_members: int = 10_000


INGEST_LIMIT_KEYS = tuple(IngestLimits.__dataclass_fields__)

# The audit gate's bounds (methodology.yaml ``expectations.bounds``) when a file leaves one out.
EXPECTATION_BOUNDS = {
    "ahp_cr_level": 0.10,
    "max_inconsistent_ahp_share": 0.25,
    "max_sector_firm_drop": 0.25,
    "max_sector_tcc_shift": 0.10,
}
SEVERITIES = ("blocking", "warning")

# The range a weight of the input must lie in (methodology.yaml ``weight_ranges``; defaults for
# a file without the block, e.g. one archived before it existed). The contract asks only for a
# number > 0; these keep every weighted sum of a round a normal double far from overflow, so
# the weighted means are exact to far better than 1e-6 (docs/ARCHITECTURE.md, "Weights").
WEIGHT_RANGES = {
    "sample_weight": (1e-6, 1e9),
    "item_weight": (1e-6, 1e12),
}

# How far a firm's survey_date may lie before the round's first day and after its last day
# (methodology.yaml ``survey_date_window``; defaults for a file without the block, e.g. one
# archived before it existed).
SURVEY_DATE_WINDOW = {"days_before_round": 366, "days_after_round": 366}
# A century: a longer window judges nothing, and keeps the window's dates representable.
SURVEY_DATE_WINDOW_MAX_DAYS = 36_525


@dataclass(frozen=True)
class Methodology:
    """A loaded methodology file: its parsed settings, path and sha256."""

    path: Path
    sha256: str
    raw: bytes = field(repr=False)
    settings: dict[str, Any] = field(repr=False)

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.settings["components"]

    @property
    def component_codes(self) -> list[str]:
        return [component["code"] for component in self.components]

    def component_aliases(self) -> dict[str, str]:
        """Every accepted spelling of a component (lower case) mapped to its code."""
        aliases: dict[str, str] = {}
        for component in self.components:
            aliases[component["code"].lower()] = component["code"]
            for alias in component.get("aliases", []):
                aliases[str(alias).lower()] = component["code"]
        return aliases

    def criteria(self) -> dict[str, list[str]]:
        """Criterion codes per component code, in file order."""
        return {
            component["code"]: [criterion["code"] for criterion in component["criteria"]]
            for component in self.components
        }

    @property
    def sota_min(self) -> float:
        return float(self.settings["sota_scale"]["min"])

    @property
    def sota_max(self) -> float:
        return float(self.settings["sota_scale"]["max"])

    @property
    def limit_min(self) -> int:
        return int(self.settings["sophistication"]["min"])

    @property
    def limit_max(self) -> int:
        return int(self.settings["sophistication"]["max"])

    @property
    def quarantine_threshold(self) -> float:
        return float(self.settings["quarantine_threshold"])

    @property
    def ingest_limits(self) -> IngestLimits:
        """The ``ingest_limits`` block (defaults for what it leaves out)."""
        given = self.settings.get("ingest_limits") or {}
        defaults = IngestLimits()
        return IngestLimits(
            **{
                key: type(getattr(defaults, key))(given.get(key, getattr(defaults, key)))
                for key in INGEST_LIMIT_KEYS
            }
        )

    def weight_range(self, name: str) -> tuple[float, float]:
        """(min, max) of a weight of the input (``weight_ranges.<name>``), both allowed."""
        low, high = WEIGHT_RANGES[name]
        given = (self.settings.get("weight_ranges") or {}).get(name) or {}
        return float(given.get("min", low)), float(given.get("max", high))

    @property
    def survey_date_window(self) -> tuple[int, int]:
        """(days before the round's first day, days after its last day) a firm's survey_date
        may lie (``survey_date_window``), both ends allowed."""
        given = self.settings.get("survey_date_window") or {}
        before, after = (int(given.get(key, value)) for key, value in SURVEY_DATE_WINDOW.items())
        return before, after

    @property
    def expectation_bounds(self) -> dict[str, float]:
        """The audit gate's bounds (``expectations.bounds``; defaults for what it leaves out)."""
        given = (self.settings.get("expectations") or {}).get("bounds") or {}
        return {key: float(given.get(key, value)) for key, value in EXPECTATION_BOUNDS.items()}

    @property
    def expectation_severity(self) -> dict[str, str]:
        """blocking or warning per audit check ``<suite>.<check>`` (``expectations.severity``);
        empty when the file has no such block: every check is then blocking."""
        return dict((self.settings.get("expectations") or {}).get("severity") or {})

    def saaty_values(self) -> list[float]:
        """The 17 values of Saaty's scale, 1/9 .. 1/2, 1 .. 9."""
        scale = [float(value) for value in self.settings["ahp"]["scale"]]
        return sorted({1.0 / value for value in scale} | set(scale))

    def class_label(self, code: str, lang: str = "en") -> str:
        for band in self.settings["classes"]:
            if band["code"] == code:
                return band["label"][lang]
        return code

    def level_label(self, code: str, lang: str = "en") -> str:
        return self.settings["levels"].get(code, {}).get(lang, code)

    def component_label(self, code: str, lang: str = "en") -> str:
        for component in self.components:
            if component["code"] == code:
                return component["label"][lang]
        return code


def load_methodology(path: str | Path | None = None) -> Methodology:
    """Read and check a methodology file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_METHODOLOGY
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ThioError(f"methodology file {path.name}: cannot be read ({exc.strerror})") from None
    try:
        settings = load_yaml(raw)
    except InvalidYaml as exc:
        raise ThioError(f"methodology file {path.name}: {exc}") from None
    _check_settings(path.name, settings)
    return Methodology(
        path=path, sha256=hashlib.sha256(raw).hexdigest(), raw=raw, settings=settings
    )


def _check_settings(name: str, settings: Any) -> None:
    def fail(message: str) -> None:
        raise ThioError(f"methodology file {name}: {message}")

    if not isinstance(settings, dict):
        fail("expected a mapping of settings at the top level")
    required = (
        "components",
        "sophistication",
        "sota_scale",
        "ahp",
        "default_betas",
        "classes",
        "levels",
        "priority_rule",
        "quarantine_threshold",
        "classification_decimals",
        "given_weights_tolerance",
        "default_rater",
    )
    for key in required:
        if key not in settings:
            fail(f"setting '{key}' is missing")
    number = _number_checker(fail)
    codes = [component.get("code") for component in settings["components"]]
    if tuple(codes) != COMPONENT_ORDER:
        fail(f"components must be T, H, I, O in that order (found {', '.join(map(str, codes))})")
    for component in settings["components"]:
        if not component.get("criteria"):
            fail(f"component {component['code']} has no criteria")
        for criterion in component["criteria"]:
            if not str(criterion.get("code", "")).startswith(component["code"] + "."):
                fail(f"criterion {criterion.get('code')!r} must start with '{component['code']}.'")
            number(f"criterion {criterion['code']} weight", criterion.get("weight", 1), above=0)
    if settings["ahp"].get("method") not in AHP_METHODS:
        fail(f"ahp.method must be one of {', '.join(AHP_METHODS)}")
    if settings["priority_rule"] not in PRIORITY_RULES:
        fail(f"priority_rule must be one of {', '.join(PRIORITY_RULES)}")
    betas = settings["default_betas"]
    if not isinstance(betas, dict) or sorted(betas) != sorted(COMPONENT_ORDER):
        fail("default_betas must give T, H, I and O summing to 1")
    for code in COMPONENT_ORDER:
        # the audit requires every beta > 0 (firm_tcc.betas_sum_to_one)
        number(f"default_betas.{code}", betas[code], above=0)
    if abs(sum(map(float, betas.values())) - 1) > 1e-9:
        fail("default_betas must give T, H, I and O summing to 1")
    number("quarantine_threshold", settings["quarantine_threshold"], at_least=0, at_most=1)
    number("given_weights_tolerance", settings["given_weights_tolerance"], at_least=0)
    for key in ("min", "max"):
        number(f"sota_scale.{key}", settings["sota_scale"][key])
        number(f"sophistication.{key}", settings["sophistication"][key], integer=True)
    number("classification_decimals", settings["classification_decimals"], integer=True)
    if "power_squarings" in settings["ahp"]:
        number("ahp.power_squarings", settings["ahp"]["power_squarings"], integer=True, above=0)
    for value in settings["ahp"]["scale"]:
        number("ahp.scale", value, above=0)
    if float(settings["sota_scale"]["max"]) <= float(settings["sota_scale"]["min"]):
        fail("sota_scale.max must be greater than sota_scale.min")
    for key in ("cr_threshold", "judgment_tolerance", "reciprocal_tolerance"):
        if key in settings["ahp"]:
            number(f"ahp.{key}", settings["ahp"][key], at_least=0)
    if 4 not in {int(key) for key in settings["ahp"]["random_index"]}:
        fail("ahp.random_index needs the value for n=4")
    for size, value in settings["ahp"]["random_index"].items():
        number(f"ahp.random_index.{size}", value, at_least=0)
    for band in settings["classes"]:
        for key in ("lower", "upper"):
            number(f"classes.{band.get('code')}.{key}", band.get(key))
    limits = _settings_block(
        "ingest_limits", settings.get("ingest_limits"), INGEST_LIMIT_KEYS, fail
    )
    for key, value in limits.items():
        number(f"ingest_limits.{key}", value, above=0)
    _check_weight_ranges(settings.get("weight_ranges"), fail, number)
    _check_survey_date_window(settings.get("survey_date_window"), fail, number)
    _check_expectations(settings.get("expectations"), fail)


def _number_checker(fail: Any) -> Any:
    """``number(key, value, above=, at_least=, at_most=, integer=)``: fails, naming the key,
    unless the value is a finite number (YAML's .nan and .inf are numbers too) within the
    bounds (and whole, with ``integer``)."""

    def number(
        key: str,
        value: Any,
        *,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
        integer: bool = False,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"{key} must be a number (found {value!r})")
        if not math.isfinite(value):
            fail(f"{key} must be a finite number (found {value!r})")
        if integer and value != int(value):
            fail(f"{key} must be a whole number (found {value!r})")
        if above is not None and not value > above:
            fail(f"{key} must be greater than {above:g} (found {value!r})")
        if at_least is not None and value < at_least:
            fail(f"{key} must be at least {at_least:g} (found {value!r})")
        if at_most is not None and value > at_most:
            fail(f"{key} must be at most {at_most:g} (found {value!r})")
        return float(value)

    return number


def _settings_block(name: str, block: Any, known: Any, fail: Any) -> dict[str, Any]:
    """An optional block of named settings (absent: none given): a mapping whose every key
    is one of ``known``; refuses anything else, naming the block or the key."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        fail(f"{name} must be a mapping")
    for key in block:
        if key not in known:
            fail(f"{name}.{key} is not a setting ({', '.join(known)})")
    return block


def _check_weight_ranges(block: Any, fail: Any, number: Any) -> None:
    """``weight_ranges``: per weight of the input a finite ``min`` > 0 and ``max`` >= min."""
    for key, bounds in _settings_block("weight_ranges", block, WEIGHT_RANGES, fail).items():
        if not isinstance(bounds, dict) or set(bounds) != {"min", "max"}:
            fail(f"weight_ranges.{key} must give min and max")
        low = number(f"weight_ranges.{key}.min", bounds["min"], above=0)
        high = number(f"weight_ranges.{key}.max", bounds["max"])
        if high < low:
            fail(f"weight_ranges.{key}.max must be at least its min (found {high!r} < {low!r})")


def _check_survey_date_window(block: Any, fail: Any, number: Any) -> None:
    """``survey_date_window``: whole numbers of days, 0 .. a century, for each end."""
    for key, value in _settings_block(
        "survey_date_window", block, SURVEY_DATE_WINDOW, fail
    ).items():
        number(
            f"survey_date_window.{key}",
            value,
            integer=True,
            at_least=0,
            at_most=SURVEY_DATE_WINDOW_MAX_DAYS,
        )


def _check_expectations(block: Any, fail: Any) -> None:
    """The ``expectations`` block's shape (its check names are matched with the suites of
    schemas/expectations/ by thio.expectations.check_severities)."""
    if block is None:
        return
    if not isinstance(block, dict) or set(block) - {"bounds", "severity"}:
        fail("expectations must be a mapping of bounds and severity")
    for key, value in (block.get("bounds") or {}).items():
        if key not in EXPECTATION_BOUNDS:
            fail(f"expectations.bounds.{key} is not a setting ({', '.join(EXPECTATION_BOUNDS)})")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            fail(f"expectations.bounds.{key} must be a finite number of at least 0")
    for key, value in (block.get("severity") or {}).items():
        if value not in SEVERITIES:
            fail(f"expectations.severity.{key} must be blocking or warning (found {value!r})")


def methodology_tables(methodology: Methodology) -> dict[str, list[dict[str, Any]]]:
    """The settings as rows of the ``methodology`` schema tables the SQL models read."""
    settings = methodology.settings
    components = [
        {
            "component": component["code"],
            "component_order": order,
            "label_en": component["label"]["en"],
            "label_id": component["label"]["id"],
        }
        for order, component in enumerate(settings["components"], start=1)
    ]
    criteria = [
        {
            "component": component["code"],
            "criterion": criterion["code"],
            "criterion_order": order,
            "criterion_weight": float(criterion.get("weight", 1)),
            "label_en": criterion["label"]["en"],
            "label_id": criterion["label"]["id"],
        }
        for component in settings["components"]
        for order, criterion in enumerate(component["criteria"], start=1)
    ]
    classes = [
        {
            "tcc_class": band["code"],
            "class_order": order,
            "lower_bound": float(band["lower"]),
            "upper_bound": float(band["upper"]),
            "technology_level": band["level"],
            "label_en": band["label"]["en"],
            "label_id": band["label"]["id"],
        }
        for order, band in enumerate(settings["classes"], start=1)
    ]
    random_index = [
        {"n": int(n), "ri": float(ri)} for n, ri in settings["ahp"]["random_index"].items()
    ]
    betas = settings["default_betas"]
    parameters = [
        {
            "sota_min": methodology.sota_min,
            "sota_max": methodology.sota_max,
            "limit_min": methodology.limit_min,
            "limit_max": methodology.limit_max,
            "default_rater": str(settings["default_rater"]),
            "ahp_method": settings["ahp"]["method"],
            "cr_threshold": float(settings["ahp"]["cr_threshold"]),
            "power_squarings": int(settings["ahp"].get("power_squarings", 40)),
            "given_weights_tolerance": float(settings["given_weights_tolerance"]),
            "default_beta_t": float(betas["T"]),
            "default_beta_h": float(betas["H"]),
            "default_beta_i": float(betas["I"]),
            "default_beta_o": float(betas["O"]),
            "classification_decimals": int(settings["classification_decimals"]),
            "priority_rule": settings["priority_rule"],
            "quarantine_threshold": methodology.quarantine_threshold,
        }
    ]
    return {
        "components": components,
        "criteria": criteria,
        "classes": classes,
        "random_index": random_index,
        "parameters": parameters,
    }


def install_methodology(con: Any, methodology: Methodology) -> None:
    """Create the ``methodology`` schema in a DuckDB connection from the settings."""
    import pandas as pd

    con.execute("create schema if not exists methodology")
    for name, rows in methodology_tables(methodology).items():
        frame = pd.DataFrame(rows)
        con.register("_methodology_rows", frame)
        # name comes from our own fixed dict keys above, never from input
        con.execute(
            f"create or replace table methodology.{name} as select * from _methodology_rows"
        )
        con.unregister("_methodology_rows")
