"""The project's admin: Django's admin with the staff Pipeline page added."""
from django.contrib.admin.apps import AdminConfig


class NbaAdminConfig(AdminConfig):
    default_site = "nbaproject.admin_site.NbaAdminSite"

    def ready(self):
        super().ready()  # autodiscovers every app's admin.py
        from nbaproject import task_admin  # noqa: F401  (replaces the stock TaskResult admin)
