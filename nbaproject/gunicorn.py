"""gunicorn settings, from the environment: `gunicorn nbaproject.wsgi -c python:nbaproject.gunicorn`
(the Procfile's `web` and bench/api_load.py). Command-line options override them.

gthread workers: server-sent event streams hold a thread each, not a process. One process per
CPU the server may use (each runs Python on one core at a time), at least two.
"""
import os

bind = os.environ.get("WEB_BIND") or "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, len(os.sched_getaffinity(0))))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 8)
timeout = 120
