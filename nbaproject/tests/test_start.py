"""`make run`'s start (nbaproject/start.py): every process honcho starts sees one configuration, the
environment winning over `.env`; the banner names the address gunicorn binds; start-up noise is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

from nbaproject.testing.commands import fresh_environment, run_manage

# Each process reports what it sees through Django's settings, then stays up (honcho stops every
# process when one exits).
PROBE = (
    'python manage.py shell -v0 -c "import os; from django.conf import settings; '
    "print('{name}', settings.DEBUG, settings.CELERY_QUEUE_PREFIX, os.environ['WEB_BIND'], "
    "repr(os.environ.get('WEB_CONCURRENCY')), flush=True)\" "
    "&& sleep 120"
)


def test_every_process_sees_exported_variables_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "DEBUG=0\nSECRET_KEY=from-dotenv-secret\nCELERY_QUEUE_PREFIX=dotenv.\n"
        "WEB_BIND=127.0.0.1:18391\nWEB_CONCURRENCY=\nVAR_DIR=" + str(tmp_path / "var") + "\n"
    )
    procfile = tmp_path / "Procfile"
    names = ("web", "worker", "batch", "beat")  # the Procfile's processes
    procfile.write_text("".join(f"{name}: {PROBE.format(name=name)}\n" for name in names))
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "CELERY_QUEUE_PREFIX",
            "WEB_BIND",
            "VAR_DIR",
            "SECRET_KEY",
            "DJANGO_SETTINGS_MODULE",
            "WEB_CONCURRENCY",
        }
    }
    env.update(ENV_FILE=str(dotenv), DEBUG="1", CELERY_QUEUE_PREFIX="exported.")

    start = subprocess.Popen(
        [sys.executable, "-m", "nbaproject.start", "--procfile", str(procfile), "--no-banner"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: dict[str, list[str]] = {}
    lines = []
    try:
        deadline = time.monotonic() + 180
        while len(seen) < len(names) and time.monotonic() < deadline:
            line = start.stdout.readline()
            if not line:
                break
            lines.append(line)
            words = line.split("|", 1)[-1].split()
            if words and words[0] in names and len(words) == 5:
                seen[words[0]] = words[1:]
    finally:
        os.killpg(start.pid, signal.SIGTERM)
        start.wait(timeout=30)

    assert set(seen) == set(names), "".join(lines)
    for name, (debug, prefix, bind, concurrency) in seen.items():
        assert (debug, prefix) == ("True", "exported."), f"{name} saw DEBUG={debug} prefix={prefix}"
        assert bind == "127.0.0.1:18391", f"{name} did not get WEB_BIND from .env"  # the file fills the gaps
        # empty in .env means "the default": not set (gunicorn itself would read "" and fail)
        assert concurrency == "None", f"{name} saw WEB_CONCURRENCY={concurrency}"


def test_a_management_command_and_the_models_start_without_noise(tmp_path):
    """No `No hostname was supplied` from kombu on the embedded broker, no JAX probe of a TPU."""
    env = fresh_environment(tmp_path, KERAS_BACKEND="jax", LOG_LEVEL="INFO")
    code = (
        "from nbaproject.celery import app; conn = app.connection_for_write(); print(app.conf.broker_url); "
        "print(type(conn.transport).__mro__[1].__module__); "
        "import jax; print(jax.devices())"
    )
    result = run_manage("shell", "-v0", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    # the embedded default: the filesystem broker, through its atomic-write subclass (nbaproject/broker.py)
    assert "filesystem://" in result.stdout and "kombu.transport.filesystem" in result.stdout
    assert "CpuDevice" in result.stdout
    assert "No hostname was supplied" not in result.stderr
    assert "Unable to initialize backend" not in result.stderr
