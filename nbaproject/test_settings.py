"""Settings for pytest: the real settings module, pointed at the local services.

PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) are used when they answer;
otherwise the embedded default (SQLite + filesystem broker) is used and tests marked
`services` are skipped (or fail the run with REQUIRE_SERVICES=1: see conftest.py).
TEST_EMBEDDED=1 forces the embedded default, for the smoke run of `make test`.
"""

import os

from nbaproject.testing.services import LOCAL_AMQP_URL, LOCAL_POSTGRES_URL, reachable

os.environ.setdefault("ENV_FILE", os.devnull)  # tests never read a developer's .env
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("CELERY_QUEUE_PREFIX", "test.")
os.environ.setdefault("THROTTLE_USER", "100000/min")
os.environ.setdefault("THROTTLE_ANON", "100000/min")
if os.environ.get("TEST_EMBEDDED") == "1":
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "embedded-test"))
else:
    if "DATABASE_URL" not in os.environ and reachable(LOCAL_POSTGRES_URL):
        os.environ["DATABASE_URL"] = LOCAL_POSTGRES_URL
    if "CELERY_BROKER_URL" not in os.environ and reachable(LOCAL_AMQP_URL):
        os.environ["CELERY_BROKER_URL"] = LOCAL_AMQP_URL

from nbaproject.settings import *  # noqa: E402,F401,F403
