"""JSON-Schema (draft-04) inference over events, with the Kronos type lattice.

Folding rules: ``null ⊕ X = X``, ``integer ⊕ number = number``, ``X ⊕ X = X`` (arrays merge
their item types, objects their properties, ``required`` is the sorted intersection of keys),
anything else is ``any``. A boolean is never an integer.

Inference descends ``MAX_JSON_DEPTH`` levels into an event: deeper arrays and objects (in
events stored before the API refused them) are typed, without their items or properties.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aion.core.jsonbody import MAX_JSON_DEPTH

__all__ = ["SCHEMA_URI", "infer_schema", "merge_types", "schema_of"]

SCHEMA_URI = "http://json-schema.org/draft-04/schema"
_Schema = dict[str, Any]


def schema_of(value: object, depth: int = MAX_JSON_DEPTH) -> _Schema:
    """The schema of one JSON value, describing ``depth`` levels of arrays and objects."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list | tuple):
        schema: _Schema = {"type": "array"}
        if depth <= 0:
            return schema
        items: _Schema | None = None
        for item in value:
            item_schema = schema_of(item, depth - 1)
            items = item_schema if items is None else merge_types(items, item_schema)
        if items is not None:
            schema["items"] = items
        return schema
    if isinstance(value, dict):
        if depth <= 0:
            return {"type": "object"}  # any properties
        return {
            "type": "object",
            "properties": {str(k): schema_of(v, depth - 1) for k, v in value.items()},
            "required": sorted(str(k) for k in value),
        }
    return {"type": "any"}


def merge_types(a: _Schema, b: _Schema) -> _Schema:
    """The least schema that covers both ``a`` and ``b`` in the Kronos lattice."""
    ta, tb = a["type"], b["type"]
    if ta == "null":
        return b
    if tb == "null":
        return a
    if {ta, tb} == {"integer", "number"}:
        return {"type": "number"}
    if ta != tb:
        return {"type": "any"}
    if ta == "array":
        if "items" not in a:
            return b
        if "items" not in b:
            return a
        return {"type": "array", "items": merge_types(a["items"], b["items"])}
    if ta == "object":
        if "properties" not in a or "properties" not in b:
            return {"type": "object"}  # one side was not described: neither is the union
        pa, pb = a["properties"], b["properties"]
        merged = {
            k: merge_types(pa[k], pb[k]) if k in pa and k in pb else pa.get(k, pb.get(k))
            for k in {**pa, **pb}
        }
        return {
            "type": "object",
            "properties": {k: merged[k] for k in sorted(merged)},
            "required": sorted(set(a["required"]) & set(b["required"])),
        }
    return a


def infer_schema(events: Iterable[object]) -> _Schema:
    """The schema covering every event (Kronos reads the latest 100)."""
    schema: _Schema | None = None
    for event in events:
        s = schema_of(event)
        schema = s if schema is None else merge_types(schema, s)
    result: _Schema = (
        dict(schema) if schema is not None else {"type": "object", "properties": {}, "required": []}
    )
    result["$schema"] = SCHEMA_URI
    return result
