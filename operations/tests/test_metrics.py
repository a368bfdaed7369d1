"""/metrics: Prometheus text for staff and the allowed addresses, 403 for the public."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from nbaproject.celery import queue_name

pytestmark = pytest.mark.django_db
PUBLIC = "203.0.113.7"


def scrape(client: Client, address: str):
    return client.get("/metrics", REMOTE_ADDR=address)


def families(response) -> dict:
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def samples(family, **labels) -> list[float]:
    return [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_the_public_is_refused():
    assert scrape(Client(), PUBLIC).status_code == 403
    user = get_user_model().objects.create_user("fan", password="pw")
    client = Client()
    client.force_login(user)
    assert scrape(client, PUBLIC).status_code == 403  # logged in but not staff


def test_staff_read_it_from_anywhere():
    staff = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    response = scrape(client, PUBLIC)
    assert response.status_code == 200
    found = families(response)
    assert "django_http_requests_before_middlewares" in found  # the web tier (django-prometheus)
    assert "nba_jobs_running" in found and "nba_queue_messages" in found  # the product's own


def test_an_allowed_address_reads_it_without_logging_in():
    assert scrape(Client(), "127.0.0.1").status_code == 200  # the default: the machine itself
    with override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8"]):
        assert scrape(Client(), "10.20.30.40").status_code == 200
        assert scrape(Client(), "127.0.0.1").status_code == 403


@pytest.mark.services
def test_product_figures_come_from_the_broker_and_every_job_kind():
    from etl.models import EtlRun

    EtlRun.objects.create(status=EtlRun.Status.RUNNING, source="a.csv")
    found = families(scrape(Client(), "127.0.0.1"))

    assert samples(found["nba_broker_up"]) == [1]
    queues = {s.labels["queue"] for s in found["nba_queue_messages"].samples}
    assert queue_name("predictions") in queues and queue_name("default") in queues
    assert samples(found["nba_jobs_running"], kind="etl") == [1]
    assert samples(found["nba_jobs_queued"], kind="etl") == [0]
    # every app's contribution answered the scrape
    sources = {s.labels["source"]: s.value for s in found["nba_metrics_source_up"].samples}
    assert set(sources) >= {
        "etl.jobs.freshness_metrics",
        "mlmodels.jobs.model_metrics",
        "predictions.jobs.prediction_metrics",
    }
    assert all(sources.values()), sources
