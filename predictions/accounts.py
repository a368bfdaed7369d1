"""API users: a user and their token for the API (`manage.py create_api_user`, the benches), and the
demo staff user `make run`'s bootstrap creates (its password kept in var/ so the banner can show it)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

DEMO_USERNAME = "demo"


def credentials_file():
    """Where the demo user's password is kept (var/demo-credentials.txt), so it can be shown again."""
    return settings.VAR_DIR / "demo-credentials.txt"


def create_api_user(username: str, staff: bool = False) -> tuple[object, str, bool]:
    """A user (no password: API token only, unless one is set later) and their token; idempotent."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
    if staff and not user.is_staff:
        user.is_staff = True
    if created or staff:
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key, created
