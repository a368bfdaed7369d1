"""`manage.py bootstrap`: the idempotent first-run steps behind `make run`.

Each step skips itself when its work is already done, so re-running is cheap.
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "First-run setup for `make run`: demo staff user and token (later steps: data, models, schedules)."

    def handle(self, *args, **options):
        username, password, token = self.ensure_demo_user()
        base = "http://127.0.0.1:8000"
        self.stdout.write(self.style.SUCCESS("\nnbaproject is ready."))
        self.stdout.write(f"  site:      {base}/   admin: {base}/admin/   API: {base}/api/v1/   docs: {base}/api/docs/")
        self.stdout.write(f"  staff user: {username}  password: {password}")
        self.stdout.write(f"  API token:  {token}")
        self.stdout.write(f'  try:  curl -H "Authorization: Token {token}" {base}/api/v1/\n')

    def ensure_demo_user(self):
        """Create the demo staff user once; its password is kept in var/ so it can be shown again."""
        credentials = settings.VAR_DIR / "demo-credentials.txt"
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None or not credentials.exists():
            password = secrets.token_urlsafe(12)
            user = user or User(username=DEMO_USERNAME, email="demo@example.com")
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            credentials.write_text(password + "\n")
            credentials.chmod(0o600)
        password = credentials.read_text().strip()
        token, _ = Token.objects.get_or_create(user=user)
        return user.username, password, token.key
