"""The building blocks of the OpenAPI description (webapp/api/spec.py and its sections
webapp/api/spec_*.py): closed objects, shared parameters, operations with the Error answer."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A closed object: these fields and no others; ``required`` ones always present."""
    return {"type": "object", "required": sorted(required),
            "properties": {**required, **(optional or {})}, "additionalProperties": False}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
DAY: Schema = {"type": "string", "format": "date"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
NAMED = obj({"id": STRING, "name": STRING})


IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": True,
               "description": "One per user action (8..64 of A-Z a-z 0-9 _ -); the same key "
                              "with the same body replays the first answer.",
               "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}}
PERIOD = {"name": "period", "in": "query", "required": False,
          "schema": {"enum": ["7d", "30d", "90d", "all"], "default": "30d"}}
PAGING = [
    {"name": "page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000}},
    {"name": "page_size", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]
THEME = {"name": "theme", "in": "query", "required": False,
         "schema": {"enum": ["light", "dark"], "default": "light"}}
HISTORY_FILTERS = [
    {"name": "exchange", "in": "query", "required": False, "schema": STRING},
    {"name": "from", "in": "query", "required": False, "schema": DAY},
    {"name": "to", "in": "query", "required": False, "schema": DAY},
]
CSV = {"type": "string", "description": "RFC 4180, UTF-8 with a byte-order mark"}
SVG = {"type": "string", "description": "An SVG image"}
ADMIN_USER_FILTERS = [
    {"name": "q", "in": "query", "required": False, "schema": STRING},
    {"name": "state", "in": "query", "required": False,
     "schema": {"enum": ["active", "banned"]}},
    {"name": "role", "in": "query", "required": False,
     "schema": {"enum": ["trader", "viewer", "ops", "finance", "admin"]}},
    {"name": "source", "in": "query", "required": False, "schema": STRING},
    {"name": "exchange", "in": "query", "required": False, "schema": STRING},
    {"name": "has_balance", "in": "query", "required": False,
     "schema": {"enum": ["yes", "no"]}},
    {"name": "sort", "in": "query", "required": False,
     "schema": {"enum": ["newest", "oldest", "balance", "name"], "default": "newest"}},
]
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer",
                                                                "minimum": 1}}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(summary: str, ok: int, body: Schema | None, *, params: list[Schema] | None = None,
              request: str | None = None, media: str = "application/json") -> Schema:
    """An operation: its success answer, and every error as the Error object."""
    if body is None:
        success: Schema = {"description": summary}
    elif media == "application/json":
        success = _json(body, summary)
    else:
        success = {"description": summary, "content": {media: {"schema": body}}}
    described: Schema = {
        "summary": summary,
        "responses": {str(ok): success, "default": _json(ref("Error"), "An error")},
    }
    if params:
        described["parameters"] = params
    if request:
        described["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}}}
    return described


def write(summary: str, ok: int, body: Schema | None, *, params: list[Schema] | None = None,
          request: str | None = None) -> Schema:
    return operation(summary, ok, body, params=[IDEMPOTENCY, *(params or [])],
                     request=request)
