"""How the predictions admin shows a request: its features once, as a table of name and value, and
its other JSON (task ids, timings, model outputs) once and readably."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from predictions.models import Prediction, PredictionRequest
from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db

FEATURES = {"rest_days": 2, "pts_ewm": 28.71234, "min_mean_5": 36.5, "mates_absent_usg": None}


def test_a_request_page_shows_the_features_once_as_a_name_value_table(client):
    request = PredictionRequest.objects.create(
        user=make_user("alice"),
        player_input="Luka Doncic",
        status=PredictionRequest.Status.SUCCEEDED,
        features=FEATURES,
    )
    Prediction.objects.create(
        request=request, p10=20, p50=29, p90=38, model_outputs={}, model_versions={}, features=FEATURES, timings={}
    )
    client.force_login(User.objects.create_superuser("ops", password="pw"))

    page = client.get(reverse("admin:predictions_predictionrequest_change", args=[request.pk])).content.decode()

    assert page.count("pts_ewm") == 1, "the features are shown more than once"
    assert '"pts_ewm"' not in page and "{&quot;pts_ewm" not in page, "the features are dumped as JSON"
    table = re.search(r'<table class="features">.*?</table>', page, re.DOTALL).group(0)
    assert '<th scope="col">Feature</th><th scope="col">Value</th>' in table
    rows = re.findall(r'<td class="feature-name">(.*?)</td><td class="feature-value">(.*?)</td>', table)
    assert rows == [
        ("min_mean_5", "36.5"),
        ("pts_ewm", "28.712"),
        ("rest_days", "2"),  # the models' order
        ("mates_absent_usg", "– (unknown)"),
    ]


def test_a_request_without_features_yet_says_so(client):
    request = PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic")
    client.force_login(User.objects.create_superuser("ops", password="pw"))

    response = client.get(reverse("admin:predictions_predictionrequest_change", args=[request.pk]))

    assert response.status_code == 200
    assert '<table class="features">' not in response.content.decode()


def test_task_ids_timings_and_model_outputs_are_shown_once_and_readably(client):
    request = PredictionRequest.objects.create(
        user=make_user("alice"),
        player_input="Luka Doncic",
        status=PredictionRequest.Status.SUCCEEDED,
        task_ids={"resolve": "11111111-aaaa-4bbb-8ccc-000000000001"},
        timings={"keras": 32.4396, "resolve": 0.0677, "total": 36.3961, "queued": 3.1314},
    )
    Prediction.objects.create(
        request=request,
        p10=16.787563865229075,
        p50=36.32021606499073,
        p90=45.899451196668906,
        model_outputs={
            "keras": {"p10": 35.6017, "p50": 62.2759, "p90": 65.9947, "model_version": 2.0},
            "lightgbm": {"p10": 12.0899, "p50": 29.8312, "p90": 41.5948, "model_version": 1},
        },
        model_versions={"keras": 2, "lightgbm": 1},
        features={},
        timings={"total": 36.4},
        data_through=dt.date(2024, 3, 13),
        days_since_last_game=2,
    )
    client.force_login(User.objects.create_superuser("ops", password="pw"))

    page = client.get(reverse("admin:predictions_predictionrequest_change", args=[request.pk])).content.decode()

    assert page.count("11111111-aaaa-4bbb-8ccc-000000000001") == 1, "the task ids are shown twice"
    through = re.search(r"Data through.*?<div class=\"readonly\">(.*?)</div>", page, re.DOTALL)
    assert through and through.group(1) == "March 13, 2024"  # how fresh the range's data was
    assert re.search(r"Days since last game.*?<div class=\"readonly\">2</div>", page, re.DOTALL)
    assert "resolve 0.07 s · keras 32.44 s · queued 3.13 s · total 36.40 s" in page
    assert "16.8 / 36.3 / 45.9 points" in page and "16.787563865229075" not in page
    outputs = re.search(r'<table class="model-outputs">.*?</table>', page, re.DOTALL).group(0)
    assert re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", outputs) == [
        ("keras", "35.6", "62.3", "66.0", "2"),
        ("lightgbm", "12.1", "29.8", "41.6", "1"),
    ]
    assert "predictions/admin.css" in page  # hides the events' "PredictionEvent object (n)" captions
