"""`manage.py bootstrap`: the idempotent first-run steps behind `make run`.

Loads the bundled real seasons (files already loaded are skipped), trains quick models when no
active set exists (seconds, so the site answers soon) and queues the full training once on the
batch worker (the ml queue; prediction workers switch to the full models when they are registered),
creates the beat schedules and the demo staff user. Each step skips itself when its work is already
done, so running it again is cheap.
"""

from __future__ import annotations

import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from predictions.accounts import DEMO_USERNAME, credentials_file

# Quick models learn from the last few seasons only: the site answers within a minute or two of the
# install, and the full models (every season) replace them when the batch worker has trained them.
QUICK_SEASONS = 3


class Command(BaseCommand):
    help = (
        "First-run setup for `make run`: load the bundled seasons, train quick models if none is active "
        "and queue the full training on the batch worker, create the beat schedules and the demo staff "
        "user with an API token. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-data", action="store_true", help="skip loading the bundled seasons")
        parser.add_argument("--no-train", action="store_true", help="skip training when no model is active")
        parser.add_argument(
            "--quick", action="store_true", help="quick (small, less accurate) models only: no full training is queued"
        )
        parser.add_argument(
            "--full-now",
            action="store_true",
            help="train the full models here and now (minutes) instead of quick ones now and "
            "the full ones on the batch worker",
        )

    def handle(self, *args, **options):
        if not options["no_data"]:
            self.step("Loading the bundled seasons (files loaded before are skipped)")
            call_command("load_gamelogs", bundled=True, skip_loaded=True, stdout=self.stdout, stderr=self.stderr)
        if not options["no_train"]:
            self.ensure_models(quick=options["quick"] or not options["full_now"])
            if not (options["quick"] or options["full_now"]):
                self.queue_full_training()
        self.step("Beat schedules")
        call_command("setup_schedules", stdout=self.stdout)
        self.ensure_demo_user()
        from predictions.banner import ready_banner

        self.stdout.write(self.style.SUCCESS(ready_banner("(printed again once the workers answer)")))

    def step(self, title: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {title}"))

    def ensure_models(self, quick: bool) -> None:
        from etl.selectors import loaded_seasons
        from mlmodels.selectors import active_models_exist
        from mlmodels.services import train_models

        if active_models_exist():
            self.step("Models: an active LightGBM and Keras set exists, not training")
            return
        if not loaded_seasons():
            self.stdout.write(self.style.WARNING("No game logs loaded: cannot train (load data first)."))
            return
        seasons = loaded_seasons()[-QUICK_SEASONS:] if quick else None
        self.step(
            f"Training quick LightGBM and Keras models on {', '.join(seasons)} (seconds)"
            if quick
            else "Training LightGBM and Keras on every loaded season (once; a few minutes)"
        )
        started, last = time.monotonic(), [""]

        def progress(stage=None, percent=None, **extra):
            line = f"  {stage or ''} {'' if percent is None else f'{percent}%'}".rstrip()
            if line != last[0]:
                self.stderr.write(f"{line}  ({time.monotonic() - started:.0f} s)")
                last[0] = line

        run = train_models(seasons=seasons, quick=quick, progress=progress)
        for version in run.versions.order_by("algorithm"):
            metrics = version.metrics or {}
            self.stdout.write(
                f"  {version}: validation mae {metrics.get('mae', float('nan')):.2f}, "
                f"80% coverage {metrics.get('coverage_80', float('nan')):.3f}"
            )

    def queue_full_training(self) -> None:
        """When the quick models answer, have the batch worker train the full ones (once)."""
        from mlmodels.runs import fail_interrupted_runs
        from predictions.first_run import queue_full_training_once
        from predictions.selectors import serving_models

        if not serving_models()["quick"]:
            return
        for interrupted in fail_interrupted_runs():
            self.step(f"Training run {interrupted.pk} was cut off (no batch worker is running): marked failed")
        run, queued = queue_full_training_once()
        if queued:
            self.step(
                f"Full training queued for the batch worker (training run {run.pk}); the site answers "
                "with the quick models until it is registered"
            )
        elif run is not None:
            self.step(f"Full training already queued or running (training run {run.pk}), not queued again")

    def ensure_demo_user(self):
        """Create the demo staff user once; its password is kept in var/ so it can be shown again."""
        credentials = credentials_file()
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None or not credentials.exists():
            password = secrets.token_urlsafe(12)
            user = user or User(username=DEMO_USERNAME, email="demo@example.com")
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            credentials.write_text(password + "\n")
            credentials.chmod(0o600)
        password = credentials.read_text().strip()
        token, _ = Token.objects.get_or_create(user=user)
        return user.username, password, token.key
