"""`/metrics`: Prometheus text format for operators.

Two parts in one answer:
- the web tier, from django-prometheus (requests, latencies and responses by view). Under
  gunicorn (nbaproject/gunicorn.py) PROMETHEUS_MULTIPROC_DIR is set: every process writes its
  counts to files there and the answer sums them all, whichever process serves the scrape;
  without it (runserver) the one process's registry answers;
- the product's own figures, computed at scrape time from the database and the broker, so every
  web process answers the same numbers however many there are: jobs queued and running per kind,
  messages waiting per queue, and what each app contributes through `register_metrics` in its
  `jobs.py` (predictions submitted/succeeded/failed and their latency, data freshness, active
  model versions).

Readable by staff (a logged-in session) and by the addresses in METRICS_ALLOWED_IPS (addresses
or networks; default 127.0.0.1 and ::1, where a local Prometheus or agent scrapes from); anyone
else gets 403.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.urls import path
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from operations import registry

logger = logging.getLogger(__name__)
ACTIVE_STATUSES = ("queued", "running")


def allowed_networks() -> list:
    return [ipaddress.ip_network(item, strict=False) for item in settings.METRICS_ALLOWED_IPS]


def may_read_metrics(request) -> bool:
    """Staff, or a client address METRICS_ALLOWED_IPS allows (REMOTE_ADDR: behind a proxy, the proxy's)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


def jobs_active() -> list:
    """Jobs queued and running, per kind (every registered job kind; a kind named by a function of
    the row, like training/backtest, is counted row by row: active rows are few)."""
    families = {
        status: GaugeMetricFamily(f"nba_jobs_{status}", f"Jobs {status} now, per kind.", labels=["kind"])
        for status in ACTIVE_STATUSES
    }
    for job_kind in registry.job_kinds():
        model = job_kind.model
        counts: dict[tuple[str, str], int] = {}
        if callable(job_kind.kind):
            for job in model._default_manager.filter(status__in=ACTIVE_STATUSES):
                key = (job_kind.kind_of(job), job.status)
                counts[key] = counts.get(key, 0) + 1
        else:
            counts = {(job_kind.kind, status): 0 for status in ACTIVE_STATUSES}
            for row in (
                model._default_manager.filter(status__in=ACTIVE_STATUSES)
                .order_by()
                .values_list("status")
                .annotate(n=Count("pk"))
            ):
                counts[(job_kind.kind, row[0])] = row[1]
        for (kind, status), n in counts.items():
            families[status].add_metric([kind], n)
    return list(families.values())


def queue_depth() -> list:
    """Messages waiting in each of our queues, straight from the broker (operations.dashboard)."""
    from operations.dashboard import queue_depths

    depths = queue_depths()
    up = GaugeMetricFamily("nba_broker_up", "1 when the broker answered this scrape.")
    up.add_metric([], 1 if depths["available"] else 0)
    messages = GaugeMetricFamily("nba_queue_messages", "Messages waiting in the queue.", labels=["queue"])
    consumers = GaugeMetricFamily("nba_queue_consumers", "Consumers (worker channels) on the queue.", labels=["queue"])
    for queue in depths["queues"]:
        messages.add_metric([queue["name"]], queue["messages"])
        if queue["consumers"] is not None:
            consumers.add_metric([queue["name"]], queue["consumers"])
    return [up, messages, consumers]


class ProductCollector:
    """The product's figures, gathered at each scrape. A source that fails is reported by
    nba_metrics_source_up{source} = 0 (and logged) instead of failing the whole scrape."""

    def collect(self):
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "nba_metrics_source_up", "1 when this source of figures answered the scrape.", labels=["source"]
        )
        for source in [jobs_active, queue_depth, *registry.metric_sources()]:
            name = f"{source.__module__}.{source.__name__}"
            try:
                families = list(source())
            except Exception:
                logger.exception("metrics source %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up
        took = GaugeMetricFamily("nba_metrics_scrape_seconds", "Seconds spent computing the product's figures.")
        took.add_metric([], time.perf_counter() - started)
        yield took


def render() -> bytes:
    """The web tier's metrics (this process, or every process when PROMETHEUS_MULTIPROC_DIR is set)
    followed by the product's figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        web = CollectorRegistry()
        multiprocess.MultiProcessCollector(web)
    else:
        web = REGISTRY
    product = CollectorRegistry(auto_describe=False)
    product.register(ProductCollector())
    return generate_latest(web) + generate_latest(product)


def metrics(request):
    if not may_read_metrics(request):
        return HttpResponse(
            "Forbidden: /metrics is for staff and the addresses in METRICS_ALLOWED_IPS.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes


urlpatterns = [path("", metrics, name="metrics")]
