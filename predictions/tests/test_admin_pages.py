"""How the predictions admin shows a request: its features once, as a table of name and value."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from predictions.models import Prediction, PredictionRequest
from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db

FEATURES = {"rest_days": 2, "pts_ewm": 28.71234, "min_mean_5": 36.5, "mates_absent_usg": None}


def test_a_request_page_shows_the_features_once_as_a_name_value_table(client):
    request = PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic",
                                               status=PredictionRequest.Status.SUCCEEDED, features=FEATURES)
    Prediction.objects.create(request=request, p10=20, p50=29, p90=38, model_outputs={}, model_versions={},
                              features=FEATURES, timings={})
    client.force_login(User.objects.create_superuser("ops", password="pw"))

    page = client.get(reverse("admin:predictions_predictionrequest_change", args=[request.pk])).content.decode()

    assert page.count("pts_ewm") == 1, "the features are shown more than once"
    assert '"pts_ewm"' not in page and "{&quot;pts_ewm" not in page, "the features are dumped as JSON"
    table = re.search(r'<table class="features">.*?</table>', page, re.S).group(0)
    assert '<th scope="col">Feature</th><th scope="col">Value</th>' in table
    rows = re.findall(r'<td class="feature-name">(.*?)</td><td class="feature-value">(.*?)</td>', table)
    assert rows == [("min_mean_5", "36.5"), ("pts_ewm", "28.712"), ("rest_days", "2"),  # the models' order
                    ("mates_absent_usg", "– (unknown)")]


def test_a_request_without_features_yet_says_so(client):
    request = PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic")
    client.force_login(User.objects.create_superuser("ops", password="pw"))

    response = client.get(reverse("admin:predictions_predictionrequest_change", args=[request.pk]))

    assert response.status_code == 200
    assert '<table class="features">' not in response.content.decode()
