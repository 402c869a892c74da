"""The methodology file: every setting of the technometric method, loaded and checked.

The SQL in ``warehouse/`` reads the settings from the ``methodology`` schema that
:func:`install_methodology` writes into a DuckDB connection, so that no value is ever
formatted into SQL text.
"""

from __future__ import annotations

import hashlib
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
    codes = [component.get("code") for component in settings["components"]]
    if tuple(codes) != COMPONENT_ORDER:
        fail(f"components must be T, H, I, O in that order (found {', '.join(map(str, codes))})")
    for component in settings["components"]:
        if not component.get("criteria"):
            fail(f"component {component['code']} has no criteria")
        for criterion in component["criteria"]:
            if not str(criterion.get("code", "")).startswith(component["code"] + "."):
                fail(f"criterion {criterion.get('code')!r} must start with '{component['code']}.'")
            if float(criterion.get("weight", 1)) <= 0:
                fail(f"criterion {criterion['code']} needs a weight > 0")
    if settings["ahp"].get("method") not in AHP_METHODS:
        fail(f"ahp.method must be one of {', '.join(AHP_METHODS)}")
    if settings["priority_rule"] not in PRIORITY_RULES:
        fail(f"priority_rule must be one of {', '.join(PRIORITY_RULES)}")
    betas = settings["default_betas"]
    if sorted(betas) != sorted(COMPONENT_ORDER) or abs(sum(map(float, betas.values())) - 1) > 1e-9:
        fail("default_betas must give T, H, I and O summing to 1")
    if float(settings["sota_scale"]["max"]) <= float(settings["sota_scale"]["min"]):
        fail("sota_scale.max must be greater than sota_scale.min")
    if 4 not in {int(key) for key in settings["ahp"]["random_index"]}:
        fail("ahp.random_index needs the value for n=4")
    limits = settings.get("ingest_limits")
    if limits is not None:
        if not isinstance(limits, dict):
            fail("ingest_limits must be a mapping")
        for key, value in limits.items():
            if key not in INGEST_LIMIT_KEYS:
                fail(f"ingest_limits.{key} is not a setting ({', '.join(INGEST_LIMIT_KEYS)})")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                fail(f"ingest_limits.{key} must be a number greater than 0")
    _check_expectations(settings.get("expectations"), fail)


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
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            fail(f"expectations.bounds.{key} must be a number of at least 0")
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
