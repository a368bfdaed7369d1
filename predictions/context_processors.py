"""Template context for the user pages: the product's today when AS_OF_DATE replays a loaded season."""

from __future__ import annotations

from django.conf import settings

from predictions.dates import product_today


def product_date(request) -> dict:
    """`as_of_date`: the date AS_OF_DATE sets (the header then says the site replays the bundled
    season as of that day), or None when the product's today is the real one."""
    return {"as_of_date": product_today() if settings.AS_OF_DATE else None}
