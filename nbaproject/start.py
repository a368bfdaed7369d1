"""`make run`'s start: `python -m nbaproject.start` runs every Procfile process under honcho with
one configuration, then prints where the site is and how to sign in once the workers answer.

honcho reads `.env` itself and lays it over the environment, so an exported variable (DEBUG=1,
DATABASE_URL=...) reached bootstrap but not the processes honcho started. Here the file is read
once, by the same rule as settings.py (the environment wins), and honcho is told to read none: every
process inherits the same variables, the Procfile's ${...} and gunicorn's WEB_BIND included.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from nbaproject.envfile import BASE_DIR, load_env_file

WORKER_WAIT_SECONDS = 600


def process_environment() -> dict[str, str]:
    """The environment every process gets: os.environ over the .env file (ENV_FILE)."""
    load_env_file()
    # The Procfile's gunicorn, celery and python are this interpreter's (the project's .venv).
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return dict(os.environ)


def honcho_command(procfile: str) -> list[str]:
    """honcho with no env file of its own (the variables are already in its environment)."""
    return [sys.executable, "-m", "honcho", "start", "-f", procfile, "-d", str(BASE_DIR), "-e", os.devnull]


def wait_until_serving(started: float, honcho: subprocess.Popen) -> None:
    """Once the site answers and a prediction worker has run a task, print the banner again (the
    first one scrolled away under the workers' start-up lines)."""
    from predictions.banner import site_url

    url = site_url()
    while honcho.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}healthz", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        return
    answered = time.monotonic() - started

    import django

    django.setup()
    from nbaproject.celery import queue_name
    from operations.tasks import ping
    from predictions.banner import ready_banner

    workers = "answered"
    try:
        ping.apply_async(queue=queue_name("predictions")).get(timeout=WORKER_WAIT_SECONDS)
    except Exception as exc:  # the banner is still worth printing, with the reason
        workers = f"did not answer ({exc.__class__.__name__}): see the worker lines above"
    if honcho.poll() is None:
        sys.stdout.write(ready_banner(f"web answered after {answered:.0f} s; prediction workers {workers}.") + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", default=str(BASE_DIR / "Procfile"))
    parser.add_argument("--no-banner", action="store_true", help="do not wait for the site to print the banner")
    args = parser.parse_args(argv)

    started = time.monotonic()
    honcho = subprocess.Popen(honcho_command(args.procfile), env=process_environment(), cwd=BASE_DIR)
    # Ctrl-C reaches honcho too (same process group); it stops the processes and we wait for it.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
    if not args.no_banner:
        threading.Thread(target=wait_until_serving, args=(started, honcho), daemon=True).start()
    return honcho.wait()


if __name__ == "__main__":
    sys.exit(main())
