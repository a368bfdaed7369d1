"""Celery tasks of the mlmodels app (routed to its queue in settings)."""
