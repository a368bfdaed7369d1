"""`manage.py create_api_user NAME [--staff]`: a user for the API; prints their token."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from predictions.accounts import create_api_user


class Command(BaseCommand):
    help = "Create an API user (or reuse it) and print its token. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("name", help="user name")
        parser.add_argument("--staff", action="store_true", help="let the user see everyone's predictions")

    def handle(self, name, staff=False, **options):
        name = name.strip()
        if not name or len(name) > 150:
            raise CommandError("the user name must be 1 to 150 characters")
        try:
            get_user_model().username_validator(name)
        except ValidationError as exc:
            raise CommandError(f"invalid user name {name!r}: {' '.join(exc.messages)}") from None
        user, token, created = create_api_user(name, staff=staff)
        if options["verbosity"] > 1 or created:
            self.stderr.write(
                f"{'created' if created else 'existing'} user {user.get_username()}"
                f"{' (staff)' if user.is_staff else ''}"
            )
        self.stdout.write(token)
