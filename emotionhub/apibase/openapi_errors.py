"""Documents the error answers every operation can give, so clients (and the schema
fuzzing in tests/test_api_fuzz.py) know them: drf-spectacular lists only the success
responses of a view.

Every error body has one shape (``emotionhub.apibase.errors.error_body``). Which statuses an
operation can answer follows from what it has: authentication (401, 403, 429 when a key's
rate limit is spent), parameters or a body (400), a path id or pagination (404), a request
body (413, 415). Statuses that only some views raise are listed in ``VIEW_ERRORS``.
"""

from __future__ import annotations

ERROR_COMPONENT = "ApiError"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer: a stable machine-readable `code` and a message.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"description": "What was wrong, when the code needs detail."},
            },
        }
    },
}
DESCRIPTIONS = {
    "400": "The request is invalid (`code` says how).",
    "401": "No or an invalid API key.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No such object for this tenant, or no such page.",
    "406": "The requested format cannot be produced.",
    "409": "The object's state does not allow this now.",
    "413": "The request is too large.",
    "415": "The body's content type is not accepted.",
    "422": "The tenant's policy refuses this request (e.g. `consent_required`).",
    "429": "The key's rate limit or quota is spent; see `Retry-After`.",
    "503": "A dependency is down or the queue is full; see `Retry-After` where given.",
}
# (path, method) -> statuses raised by that view beyond the generic ones.
VIEW_ERRORS: dict[tuple[str, str], tuple[str, ...]] = {
    ("/api/v1/submissions/", "post"): ("503",),
    ("/api/v1/analyze", "post"): ("422", "503"),
    ("/api/v1/jobs/{id}/cancel/", "post"): ("409",),
    ("/api/v1/sources/{id}/fetch/", "post"): ("409", "503"),
    ("/api/v1/sources/{id}/rotate-secret/", "post"): ("409",),
}
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``)."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(
                    status,
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    _document_health_down(result)
    return result


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    params = operation.get("parameters", [])
    has_path_id = any(p.get("in") == "path" for p in params)
    paginated = any(p.get("in") == "query" and p.get("name") == "page" for p in params)
    has_body = "requestBody" in operation
    security = operation.get("security", [])
    authenticated = bool(security) and all(security)  # an empty {} makes the key optional
    statuses = ["406"]
    if params or has_body:
        statuses.append("400")
    if authenticated:
        statuses += ["401", "403", "429"]
    if has_path_id or paginated:
        statuses.append("404")
    if has_body:
        statuses += ["413", "415"]
    statuses += VIEW_ERRORS.get((path, method), ())
    return sorted(set(statuses))


def _document_health_down(result: dict) -> None:
    """The health check answers 503 with its usual body when the database or broker is down."""
    operation = result.get("paths", {}).get("/api/v1/health", {}).get("get")
    if operation and "200" in operation["responses"]:
        down = dict(operation["responses"]["200"])
        down["description"] = "The database or the broker is unreachable."
        operation["responses"].setdefault("503", down)
