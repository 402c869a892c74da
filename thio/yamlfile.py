"""YAML documents (methodology, mappings, expectation suites) read with libyaml when present."""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser: the same safe loading, about ten times faster than the pure-Python one
# (the methodology file alone took a tenth of a second to read, and a run reads it twice)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InvalidYaml(ValueError):
    """A document that is not valid YAML; ``line`` is where the parser stopped (1-based),
    or None when it cannot tell."""

    def __init__(self, line: int | None) -> None:
        super().__init__("not valid YAML" + (f" at line {line}" if line else ""))
        self.line = line


def load_yaml(text: str | bytes) -> Any:
    """One YAML document, safely (plain data only), as ``yaml.safe_load`` gives it;
    :class:`InvalidYaml` when it is not YAML."""
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidYaml(mark.line + 1 if mark is not None else None) from None
