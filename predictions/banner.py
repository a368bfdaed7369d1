"""The lines `make run` prints when the site is ready: its address (from WEB_BIND, as gunicorn
binds it), the demo staff user and API token, and which models answer predictions."""

from __future__ import annotations

import os

DEFAULT_BIND = "127.0.0.1:8000"  # nbaproject/gunicorn.py's default


def site_url() -> str:
    """http://host:port/ of WEB_BIND (the first address when several; 0.0.0.0 is reached on 127.0.0.1)."""
    bind = (os.environ.get("WEB_BIND") or DEFAULT_BIND).split(",")[0].strip()
    if bind.startswith("unix:"):
        return f"http://{DEFAULT_BIND}/"
    host, _, port = bind.rpartition(":")
    if not host:  # a bare port
        host, port = "127.0.0.1", bind
    if host in {"0.0.0.0", "", "[::]", "::"}:
        host = "127.0.0.1"
    return f"http://{host}:{port or 8000}/"


def demo_credentials() -> tuple[str, str, str] | None:
    """(username, password, API token) of the demo staff user bootstrap created, or None."""
    from rest_framework.authtoken.models import Token

    from predictions.accounts import DEMO_USERNAME, credentials_file

    token = Token.objects.filter(user__username=DEMO_USERNAME).first()
    path = credentials_file()
    if token is None or not path.exists():
        return None
    return DEMO_USERNAME, path.read_text().strip(), token.key


def ready_banner(status: str = "") -> str:
    from predictions.selectors import describe_serving, serving_models

    base = site_url()
    lines = [
        "",
        "nbaproject is ready.",
        f"  site:       {base}   admin: {base}admin/   API: {base}api/v1/   docs: {base}api/docs/",
    ]
    credentials = demo_credentials()
    if credentials:
        username, password, token = credentials
        from predictions.accounts import credentials_file

        lines += [
            f"  staff user: {username}  password: {password}   (kept in {credentials_file()})",
            f"  API token:  {token}",
            f'  try:  curl -H "Authorization: Token {token}" {base}api/v1/',
        ]
    lines.append(f"  models:     {describe_serving(serving_models())}")
    if status:
        lines.append(f"  {status}")
    return "\n".join(lines) + "\n"
