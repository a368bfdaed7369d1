"""The user page's markup as the server sends it (the browser test drives its script)."""
from __future__ import annotations

import re

import pytest

from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_the_models_table_names_its_columns(client):
    client.force_login(make_user("alice"))

    page = client.get("/").content.decode()

    table = re.search(r'<table id="models">(.*?)</table>', page, re.DOTALL).group(1)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", re.search(r"<thead>(.*?)</thead>", table, re.DOTALL).group(1))
    assert headers == ["model", "p10 / p50 / p90", "version"]
    assert table.index("</thead>") < table.index("<tbody>")
