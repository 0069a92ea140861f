"""The OpenAPI document tells the truth about refusals: every status an API operation can
answer, and the error bodies as they are sent.

FastAPI documents a 422 in its own shape (``loc``, ``msg``, ``type``), which reengage does
not send (``errors``: ``field``, ``reason``, ``loc``, ``type``), and nothing of what the
middleware answers (401, 404 for another org, 413, 429, 503) or a write's lost race (409).
A client generated from the document, or a fuzzer holding answers to it (schemathesis, in
CI), must find each of them there.
"""

from __future__ import annotations

from typing import Any

ERROR: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What went wrong, in words"}},
}
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["field", "reason", "loc", "type"],
    "properties": {
        "field": {
            "type": "string",
            "description": "The field, dotted, with list indexes: appointments[3].patient_id",
        },
        "reason": {"type": "string", "description": "Why it was refused, following its name"},
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "Where: 'body', 'query', 'path' or 'header', then the field",
        },
        "type": {"type": "string", "description": "A machine-readable kind of problem"},
    },
}
VALIDATION_ERROR: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
    },
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending again",
        "schema": {"type": "integer"},
    }
}
# Every operation of the API: the middleware answers these before any route runs.
ALWAYS: dict[str, tuple[str, dict[str, Any]]] = {
    "401": ("Missing or invalid API key", {}),
    "404": ("No such org or record (another org's path answers exactly this)", {}),
    "429": ("Too many failed key checks from this client or for this org", _RETRY_AFTER),
    "503": ("The database is unavailable or busy: send again after Retry-After", _RETRY_AFTER),
}
# Only those that take a role short of what they need, and those that write.
FORBIDDEN = ("403", "The key's role may not do this")
CONFLICT = ("409", "A concurrent write of the same record won, or the change is refused")
TOO_LARGE = ("413", "The body is larger than the server accepts")
WRITES = {"put", "post", "patch", "delete"}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the error schemas as sent and every refusal documented."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["Problem"] = PROBLEM
    schemas["HTTPValidationError"] = VALIDATION_ERROR
    schemas.pop("ValidationError", None)
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            wanted = dict(ALWAYS)
            wanted["403"] = (FORBIDDEN[1], {})
            # Unknown or repeated query parameters are refused on every operation.
            responses.setdefault(
                "422",
                {
                    "description": "Validation Error",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                        }
                    },
                },
            )
            if method in WRITES:
                wanted["409"] = (CONFLICT[1], {})
                if "requestBody" in operation:
                    wanted["413"] = (TOO_LARGE[1], {})
            for status, (description, headers) in wanted.items():
                entry: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
                if headers:
                    entry["headers"] = headers
                responses.setdefault(status, entry)
    return document
