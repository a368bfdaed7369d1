"""The OpenAPI schema documents the error answers every endpoint can give, not only its success.

drf-spectacular lists the success response (and what a view declares with @extend_schema); DRF
itself also answers 401 (a bad token, or none where one is needed), 403 (a session write
without its CSRF token), 404 (an unknown id or page), 400 (a bad filter), 415 (an unsupported
body type) and 429 (throttled). Fuzzing against the schema (predictions/tests/test_fuzz.py)
found these undocumented; the viewsets use this AutoSchema so clients see them.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field name -> messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
# One server-sent event, as OpenAPI 3.0 describes an event-stream response (a schema per event).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["progress", "result", "timeout", "error"]},
        "data": {"type": "string", "description": "JSON: a progress event, the request (result), or {detail}."},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
SSE_MEDIA_TYPE = "text/event-stream"


class ApiAutoSchema(AutoSchema):
    """Adds the error responses DRF gives to every operation that can give them."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description, schema in self._error_responses():
            responses.setdefault(code, self._error_body(description, schema))
        return responses

    def _error_responses(self):
        path_has_id = "{" in self.path
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        errors = []
        if self._is_list_view() or self.method == "POST" or self._has_checked_parameters():
            errors.append(("400", "Invalid filter, page size or body.", FIELD_ERRORS))
        errors.append(("401", "Invalid token" + ("." if public else ", or no credentials."), DETAIL))
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            errors.append(("403", "Signed in with a session but without the CSRF token.", DETAIL))
        if path_has_id or self._is_list_view():
            errors.append(("404", "No such object (or not yours), or no such page.", DETAIL))
        if self.method == "POST":
            errors.append(("415", "Unsupported body media type.", DETAIL))
        errors.append(("429", "Throttled; see Retry-After.", DETAIL))
        return errors

    def _has_checked_parameters(self) -> bool:
        """Declared query or header parameters (a detail action's filters, the events stream's
        Last-Event-ID) can be invalid: a 400."""
        return any(
            isinstance(p, OpenApiParameter) and p.location in (OpenApiParameter.QUERY, OpenApiParameter.HEADER)
            for p in self.get_override_parameters()
        )

    def _error_body(self, description: str, schema: dict) -> dict:
        media_types = self.map_renderers("media_type")
        return {
            "description": description,
            "content": {media: {"schema": SSE_EVENT if media == SSE_MEDIA_TYPE else schema} for media in media_types},
        }
