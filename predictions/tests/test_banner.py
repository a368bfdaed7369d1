"""`make run`'s banner (predictions/banner.py) names the address gunicorn binds (WEB_BIND)."""

from __future__ import annotations


def test_site_url_follows_web_bind(monkeypatch):
    from predictions.banner import site_url

    for bind, url in [
        ("127.0.0.1:18302", "http://127.0.0.1:18302/"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000/"),
        ("", "http://127.0.0.1:8000/"),
        ("localhost:8100,[::1]:8100", "http://localhost:8100/"),
    ]:
        monkeypatch.setenv("WEB_BIND", bind)
        assert site_url() == url
