"""gunicorn settings, from the environment: `gunicorn nbaproject.wsgi -c python:nbaproject.gunicorn`
(the Procfile's `web` and bench/api_load.py). Command-line options override them.

gthread workers: server-sent event streams hold a thread each, not a process. One process per
CPU the server may use (each runs Python on one core at a time), at least two.

Metrics of several processes: each gunicorn worker counts the requests it serves, so an in-memory
registry would answer /metrics with the figures of whichever worker the scrape reached. Here
prometheus_client's multiprocess mode is on: every worker writes its counters to files in
PROMETHEUS_MULTIPROC_DIR (default VAR_DIR/prometheus), emptied when gunicorn starts; the
/metrics view (operations.metrics) sums them; a worker that exits has its live gauges dropped
(child_exit). The variable is set here, in the master, before any worker forks and before the
application (and so prometheus_client) is imported.
"""

import os
from pathlib import Path

from nbaproject.envfile import BASE_DIR, load_env_file

load_env_file()  # the .env file, by the same rule as settings.py (the environment wins)

bind = os.environ.get("WEB_BIND") or "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, len(os.sched_getaffinity(0))))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 8)
timeout = 120

if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines (start, workers, the access log with --access-logfile -) as JSON objects
    # too, like the application's (settings.LOGGING): one object per line on the same streams.
    _json_handler = {"class": "logging.StreamHandler", "formatter": "json"}
    logconfig_dict = {
        "formatters": {"json": {"()": "operations.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {**_json_handler, "stream": "ext://sys.stdout"},
            "stderr": {**_json_handler, "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }

_var_dir = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(_var_dir / "prometheus")


def on_starting(server):
    """Empty the metrics directory once, before the first worker forks: files of a previous run
    would be summed into this one's counters (only the *.db files prometheus_client writes are removed)."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker):
    """A worker exited (restart, timeout, scale-down): its live gauges no longer count. Its
    counters' files stay, so totals do not go back."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
