"""The settings module refuses unsafe configurations with a one-line explanation."""

import os

from django.conf import settings

from nbaproject.testing import commands

PRODUCTION_ENV = {
    "ENV_FILE": os.devnull,
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "nba.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_COOKIES": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SETTINGS_MODULE": "nbaproject.settings",
}


def run_manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    env.update(env_overrides)
    return commands.run_manage(*args, env=env)


def test_production_without_secret_key_refuses_to_start():
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_without_secret_key_uses_a_development_key():
    result = run_manage("check", ENV_FILE=os.devnull, DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_a_malformed_boolean_is_named_in_the_error():
    result = run_manage("check", ENV_FILE=os.devnull, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_without_the_production_security_variables():
    env = {k: v for k, v in PRODUCTION_ENV.items() if not k.startswith("SECURE")}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def test_celery_is_configured_for_reliable_late_acknowledged_json_tasks():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_RESULT_BACKEND.endswith("ResultBackend") and settings.CELERY_RESULT_EXTENDED
    assert settings.CELERY_BEAT_SCHEDULER == "operations.beat:SingleBeatDatabaseScheduler"


def test_each_app_routes_its_tasks_to_its_own_queue():
    from nbaproject.celery import app, queue_name

    router = app.amqp.router
    for task_name, queue in [
        ("predictions.tasks.x", "predictions"),
        ("mlmodels.tasks.train", "ml"),
        ("scraping.tasks.crawl", "scraping"),
        ("etl.tasks.load", "etl"),
        ("operations.tasks.ping", "default"),
    ]:
        assert router.route({}, task_name)["queue"].name == queue_name(queue)
