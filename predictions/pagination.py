"""Page-number pagination of the API (settings.REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]) that refuses a
`page` the schema refuses.

DRF's own pagination reads `?page=` (empty) as page 1 and `?page=abc` as an unknown page
(404), where the OpenAPI schema asks for an integer: both are a 400 here, with the reason.
A whole number past the last page stays a 404 (no such page).
"""

from __future__ import annotations

from rest_framework import pagination, serializers


class PageNumberPagination(pagination.PageNumberPagination):
    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            text = raw.strip()
            if not text.lstrip("-").isdigit() or not text.isascii():
                reason = "must not be empty" if not text else f"must be a whole number, not {raw[:40]!r}"
                raise serializers.ValidationError({self.page_query_param: [f"{reason} (1 is the first page)."]})
        return super().paginate_queryset(queryset, request, view)
