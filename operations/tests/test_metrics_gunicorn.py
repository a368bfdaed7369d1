"""/metrics behind gunicorn with several worker processes (nbaproject/gunicorn.py): the web tier's
counters are the sum over every process (prometheus_client multiprocess mode), whichever process
answers the scrape, and a new gunicorn starts from zero (the directory is emptied at start)."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from nbaproject.testing.waiting import wait_for
from nbaproject.testing.web import WebProcess, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.slow]
PORTS = range(18800, 18850)  # this test's share of the machine's ports
REQUESTS = "django_http_requests_total_by_view_transport_method_total"
VIEW = "healthz"


def served_by_view(scrape: bytes) -> float:
    """The request counter of VIEW in one /metrics answer (summed over methods and transports)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(scrape.decode())
        for sample in family.samples
        if sample.name == REQUESTS and sample.labels.get("view") == VIEW
    )


def served_per_process(metrics_dir: Path) -> Counter:
    """{pid: requests of VIEW} from the file each process writes its counters to."""
    per_pid = Counter()
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            if name == REQUESTS and labels.get("view") == VIEW:
                per_pid[path.stem.split("_")[-1]] += value
    return per_pid


def test_metrics_sum_the_requests_of_every_gunicorn_worker(tmp_path):
    port = free_port(PORTS) or pytest.skip(f"no free port in {PORTS}")
    metrics_dir = tmp_path / "prometheus"
    with WebProcess(port, workers=2, PROMETHEUS_MULTIPROC_DIR=metrics_dir) as web:
        sent = 1  # the /healthz that saw it up

        def burst() -> Counter | None:
            """40 concurrent requests; the counts once two processes have served some (a process
            accepts while the other is busy)."""
            nonlocal sent
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: web.get(f"/{VIEW}"), range(40)))
            sent += 40
            per_pid = served_per_process(metrics_dir)
            return per_pid if sum(1 for n in per_pid.values() if n) >= 2 else None

        per_pid = wait_for(
            burst, 60, "requests served by two processes", describe=lambda: served_per_process(metrics_dir)
        )
        assert sum(per_pid.values()) == sent
        # Every scrape, whichever process answers it, gives the sum (/metrics counts under its own view).
        assert [served_by_view(web.get("/metrics")) for _ in range(6)] == [sent] * 6

    # A new server starts from zero: the previous run's files were removed at its start.
    with WebProcess(port, workers=2, PROMETHEUS_MULTIPROC_DIR=metrics_dir) as web:
        assert served_by_view(web.get("/metrics")) == 1  # its own first /healthz
