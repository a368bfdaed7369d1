"""Field shapes the predictions models repeat. They make plain Django fields: the migrations see
the same fields as if they were written out."""

from __future__ import annotations

from django.db import models


def optional(field_class: type[models.Field], help_text: str = "", **options) -> models.Field:
    """A field that may be empty: NULL in the database, blank in forms."""
    return field_class(null=True, blank=True, help_text=help_text, **options)


def link(to: str, help_text: str = "") -> models.ForeignKey:
    """An optional link to a row of another model, emptied when that row is deleted, with no
    reverse accessor on that model (`related_name="+"`)."""
    return optional(models.ForeignKey, help_text, to=to, on_delete=models.SET_NULL, related_name="+")


def json_object(help_text: str = "") -> models.JSONField:
    """A JSON object, `{}` by default (task ids, timings, counters)."""
    return models.JSONField(default=dict, blank=True, help_text=help_text)
