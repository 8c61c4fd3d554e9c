"""The OpenAPI 3.1 description of the service, served at /openapi.json.

Kept next to the handlers' validation rules (``NAME_MAX``, ``LIMIT_MAX``, body limits) so the two agree;
tests/demo_app check every route against it.
"""

from __future__ import annotations

from typing import Any

from ._config import DISPLAY_BODY_LIMIT

NAME_MAX = 256
LIMIT_MAX = 10_000
INT64_MAX = 2**63 - 1
#: An idempotency key: 1 to 128 characters of a set that needs no quoting in a header or a store key.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}


def _json(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {_JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


_BUSY = _error("The store is busy (SQLite's 'database is locked') or does not answer; retry later")
_UNAUTHORIZED = _error("A token is configured and the request lacks a valid 'Authorization: Bearer' header")
_TOO_LARGE = _error("The body is over the limit")
_METHOD = _error("The method is not allowed on this path")
_BAD_ID = _error("The id is not a non-negative 64-bit integer")
_NOT_FOUND = _error("No item with this id")
_INVALID = _error("Invalid JSON, a field of the wrong type, or a value out of range; `field` names it")
_SLOW = _error("The body did not arrive in time")
_KEY_REUSED = _error(
    "The Idempotency-Key was already used for a create with another name or description; `field` names it"
)

_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The item id",
    "schema": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier answer: 304 with no body when nothing changed",
    "schema": {"type": "string"},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the create safe to retry: the first request with a key creates the item; a "
    "repeat with the same key and the same name and description creates nothing and answers the first "
    "201 body again, with `Idempotent-Replayed: true`. An invalid key answers 400 naming it",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}
_ETAG = {"ETag": {"description": "Validator for If-None-Match", "schema": {"type": "string"}}}
_NOT_MODIFIED = {"description": "Unchanged since the ETag given in If-None-Match"}


def _item_body(required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            _JSON: {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                        "description": {"type": ["string", "null"]},
                    },
                }
            }
        },
    }


def document(version: str) -> dict[str, Any]:
    item_responses = {"400": _INVALID, "401": _UNAUTHORIZED, "404": _NOT_FOUND, "405": _METHOD, "503": _BUSY}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "demoapp",
            "version": version,
            "description": "The demo web service driven by the Terraform demos. Every error is "
            '`{"error": message, "field": field or null}`.',
        },
        "paths": {
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "200 only when the store answers",
                    "responses": {
                        "200": _json("The service and its store answer", _ref("Health")),
                        "503": _json("The store does not answer", _ref("Health")),
                    },
                }
            },
            "/api/items": {
                "get": {
                    "operationId": "listItems",
                    "summary": "Items in numeric id order, optionally paged",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "description": "At most this many items; all when absent",
                            "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                        },
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": "Only items with an id greater than this",
                            "schema": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                        },
                        _IF_NONE_MATCH,
                    ],
                    "responses": {
                        "200": _json(
                            "The items",
                            {"type": "array", "items": _ref("Item")},
                            {
                                **_ETAG,
                                "X-Next-After": {
                                    "description": "Present when more remain: the `after` of the next page",
                                    "schema": {"type": "string"},
                                },
                            },
                        ),
                        "304": _NOT_MODIFIED,
                        "400": _INVALID,
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                        "503": _BUSY,
                    },
                },
                "post": {
                    "operationId": "createItem",
                    "summary": "Create an item; its id comes from the store's atomic sequence",
                    "parameters": [_IDEMPOTENCY_KEY],
                    "requestBody": _item_body(["name"]),
                    "responses": {
                        "201": _json(
                            "The new item, or with a known Idempotency-Key the item its first request made",
                            _ref("Item"),
                            {
                                "Idempotent-Replayed": {
                                    "description": "`true` when this answer replays an earlier create with "
                                    "the same Idempotency-Key; absent otherwise",
                                    "schema": {"const": "true"},
                                }
                            },
                        ),
                        "400": _INVALID,
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                        "408": _SLOW,
                        "413": _TOO_LARGE,
                        "422": _KEY_REUSED,
                        "503": _BUSY,
                    },
                },
            },
            "/api/items/{id}": {
                "parameters": [_ID_PARAMETER],
                "get": {
                    "operationId": "getItem",
                    "responses": {"200": _json("The item", _ref("Item")), **item_responses},
                },
                "put": {
                    "operationId": "replaceItem",
                    "summary": "Full replace: a missing description becomes null",
                    "requestBody": _item_body(["name"]),
                    "responses": {
                        "200": _json("The updated item", _ref("Item")),
                        "408": _SLOW,
                        "413": _TOO_LARGE,
                        **item_responses,
                    },
                },
                "patch": {
                    "operationId": "patchItem",
                    "summary": "Partial update: only the fields given",
                    "requestBody": _item_body([]),
                    "responses": {
                        "200": _json("The updated item", _ref("Item")),
                        "408": _SLOW,
                        "413": _TOO_LARGE,
                        **item_responses,
                    },
                },
                "delete": {
                    "operationId": "deleteItem",
                    "responses": {"204": {"description": "Deleted"}, **item_responses},
                },
            },
            "/api/display": {
                "get": {
                    "operationId": "getDisplay",
                    "summary": "The stored document byte for byte, or {} when none is set",
                    "parameters": [_IF_NONE_MATCH],
                    "responses": {
                        "200": _json(
                            "The document",
                            {"description": "Any JSON document"},
                            {
                                **_ETAG,
                                "X-Display-Updated-At": {
                                    "description": "When it was put (RFC 3339); absent when none is set",
                                    "schema": {"type": "string", "format": "date-time"},
                                },
                            },
                        ),
                        "304": _NOT_MODIFIED,
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                        "503": _BUSY,
                    },
                },
                "put": _display_write("putDisplay", "200"),
                "post": _display_write("postDisplay", "201"),
                "delete": {
                    "operationId": "deleteDisplay",
                    "responses": {
                        "204": {"description": "The display is empty"},
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                        "503": _BUSY,
                    },
                },
            },
            "/api/system": {
                "get": {
                    "operationId": "system",
                    "summary": "Host, process, store and request facts (no secrets)",
                    "responses": {
                        "200": _json("System facts", _ref("System")),
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _UNAUTHORIZED,
                        "405": _METHOD,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "field"],
                    "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
                    "additionalProperties": False,
                },
                "Item": {
                    "type": "object",
                    "required": ["id", "name", "description", "created_at", "updated_at"],
                    "properties": {
                        "id": {"type": "integer", "minimum": 1},
                        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                        "description": {"type": ["string", "null"]},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                    "additionalProperties": False,
                },
                "DisplayMeta": {
                    "type": "object",
                    "required": ["hash", "updated_at", "size"],
                    "properties": {
                        "hash": {
                            "type": "string",
                            "pattern": "^[0-9a-f]{64}$",
                            "description": "sha256 of json.dumps(doc, sort_keys=True, separators=(',', ':'), "
                            "ensure_ascii=False)",
                        },
                        "updated_at": {"type": "string", "format": "date-time"},
                        "size": {"type": "integer", "minimum": 0, "maximum": DISPLAY_BODY_LIMIT},
                    },
                    "additionalProperties": False,
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "timestamp", "store"],
                    "properties": {
                        "status": {"enum": ["ok", "unavailable"]},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "store": {"type": "string"},
                        "error": {"type": "string"},
                    },
                },
                "System": {
                    "type": "object",
                    "required": [
                        "hostname",
                        "ips",
                        "platform",
                        "python",
                        "pid",
                        "uptime_seconds",
                        "version",
                        "store",
                        "client_ip",
                        "user_agent",
                        "headers",
                        "environment",
                    ],
                    "properties": {
                        "hostname": {"type": "string"},
                        "ips": {"type": "array", "items": {"type": "string"}},
                        "platform": {"type": "string"},
                        "python": {"type": "string"},
                        "pid": {"type": "integer"},
                        "uptime_seconds": {"type": "number", "minimum": 0},
                        "version": {"type": "string"},
                        "store": {
                            "type": "object",
                            "required": ["engine"],
                            "properties": {"engine": {"enum": ["lsm", "memory", "sqlite"]}},
                        },
                        "client_ip": {"type": "string"},
                        "user_agent": {"type": "string"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        },
    }


def _display_write(operation_id: str, success: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": f"Store any JSON document up to {DISPLAY_BODY_LIMIT} bytes",
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": {"description": "Any JSON document"}}},
        },
        "responses": {
            success: _json("Stored", _ref("DisplayMeta")),
            "400": _INVALID,
            "401": _UNAUTHORIZED,
            "405": _METHOD,
            "408": _SLOW,
            "413": _TOO_LARGE,
            "503": _BUSY,
        },
    }
