"""manage.py crawl SPIDER [--base-url URL] [key=value ...]: one crawl from the terminal."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scraping import services
from scraping.crawler.arguments import HELP, SPIDERS, BadArguments, parse_key_values


class Command(BaseCommand):
    help = (
        "Crawl basketball-reference with one spider in a child process, record a ScrapeRun, then load "
        "what was staged into the warehouse.\n" + "\n".join(f"  {name}: {HELP[name]}" for name in SPIDERS)
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # key=value arguments may come before or after the options (--base-url URL date=...).
        parser.parse_args = parser.parse_intermixed_args
        return parser

    def add_arguments(self, parser):
        parser.add_argument("spider", help=f"one of {', '.join(SPIDERS)}")
        parser.add_argument("spider_args", nargs="*", metavar="key=value", help="spider arguments")
        parser.add_argument("--base-url", help="site to crawl (default https://www.basketball-reference.com)")
        parser.add_argument("--no-load", action="store_true", help="stage only; do not load into the warehouse")
        parser.add_argument(
            "-s",
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a Scrapy setting, e.g. -s DOWNLOAD_DELAY=5",
        )

    def handle(self, *args, **options):
        try:
            spider_args = parse_key_values(options["spider_args"])
            if options["base_url"]:
                spider_args["base_url"] = options["base_url"]
            overrides = parse_key_values(options["set"])
            run = services.create_run(options["spider"], spider_args)
        except BadArguments as exc:
            raise CommandError(str(exc)) from None
        verbosity = options["verbosity"]
        self.stdout.write(
            f"Scrape run #{run.pk}: {run.spider} " + " ".join(f"{key}={value}" for key, value in run.args.items())
        )

        told = {"message": ""}

        def progress(current):
            if verbosity >= 1 and current.status == current.Status.RUNNING:
                if current.message.startswith("retrying ") and current.message != told["message"]:
                    told["message"] = current.message
                    self.stdout.write(f"  {current.message}")
                else:
                    self.stdout.write(f"  {current.pages} pages, {current.items} items, {current.errors} errors")

        echo = (lambda line: self.stderr.write(line)) if verbosity >= 2 else None
        run = services.run_crawl(
            run, settings_overrides={k.upper(): v for k, v in overrides.items()}, on_progress=progress, echo=echo
        )
        if run.items and not options["no_load"]:
            self.stdout.write("Loading staged rows into the warehouse...")
            services.load_staged(run)
        self.stdout.write(services.run_summary(run))
        if run.status == run.Status.FAILED:
            if run.message.startswith("cannot reach "):  # the one line says it all
                raise CommandError(run.message)
            if verbosity >= 1:
                self.stderr.write(f"The crawl's log: {services.log_path(run)}")
            raise CommandError(f"scrape run #{run.pk} failed: {run.message}")
