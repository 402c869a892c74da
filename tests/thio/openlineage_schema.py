"""The OpenLineage RunEvent (spec 2-0-2) and the facets thio emits, as a JSON Schema.

Written for the tests from the OpenLineage specification (https://openlineage.io/spec/): the
required fields, their types and formats, the event types, and the base facet every facet
extends (``_producer`` and ``_schemaURL``, both URIs).
"""

from __future__ import annotations

URI = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$"}
UUID = {"type": "string", "format": "uuid"}


def _facet(properties: dict | None = None, required: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": {"_producer": URI, "_schemaURL": URI, **(properties or {})},
        "required": ["_producer", "_schemaURL", *required],
    }


_FACETS = {"type": "object", "additionalProperties": _facet()}

_SCHEMA_FIELD = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
    "required": ["name"],
}
_INPUT_FIELD = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "field": {"type": "string"},
    },
    "required": ["namespace", "name", "field"],
}
_DATASET_FACETS = {
    "type": "object",
    "properties": {
        "schema": _facet({"fields": {"type": "array", "items": _SCHEMA_FIELD}}),
        "version": _facet({"datasetVersion": {"type": "string"}}, ("datasetVersion",)),
        "columnLineage": _facet(
            {
                "fields": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"inputFields": {"type": "array", "items": _INPUT_FIELD}},
                        "required": ["inputFields"],
                    },
                }
            },
            ("fields",),
        ),
        "dataQualityAssertions": _facet(
            {
                "assertions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "assertion": {"type": "string"},
                            "success": {"type": "boolean"},
                        },
                        "required": ["assertion", "success"],
                    },
                }
            },
            ("assertions",),
        ),
    },
    "additionalProperties": _facet(),
}
_DATASET = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": _DATASET_FACETS,
    },
    "required": ["namespace", "name"],
}
_RUN_FACETS = {
    "type": "object",
    "properties": {
        "parent": _facet(
            {
                "run": {"type": "object", "properties": {"runId": UUID}, "required": ["runId"]},
                "job": {
                    "type": "object",
                    "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
                    "required": ["namespace", "name"],
                },
            },
            ("run", "job"),
        ),
        "errorMessage": _facet(
            {"message": {"type": "string"}, "programmingLanguage": {"type": "string"}},
            ("message", "programmingLanguage"),
        ),
        "nominalTime": _facet(
            {"nominalStartTime": {"type": "string", "format": "date-time"}},
            ("nominalStartTime",),
        ),
    },
    "additionalProperties": _facet(),
}

RUN_EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": URI,
        "schemaURL": URI,
        "run": {
            "type": "object",
            "properties": {"runId": UUID, "facets": _RUN_FACETS},
            "required": ["runId"],
        },
        "job": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": _FACETS,
            },
            "required": ["namespace", "name"],
        },
        "inputs": {
            "type": "array",
            "items": {
                "allOf": [
                    _DATASET,
                    {"type": "object", "properties": {"inputFacets": _FACETS}},
                ]
            },
        },
        "outputs": {
            "type": "array",
            "items": {
                "allOf": [
                    _DATASET,
                    {"type": "object", "properties": {"outputFacets": _FACETS}},
                ]
            },
        },
    },
    "required": ["run", "job", "eventTime", "producer", "schemaURL"],
}
