"""Staff see scrape runs, their errors, log tail, linked task and staged rows in admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.urls import reverse

from scraping.crawler.parsers import parse_boxscore
from scraping.models import ScrapeRun
from scraping.tests.test_warehouse import NOW, staged_run


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_scrape_run_pages_show_progress_errors_and_staged_rows(staff_client, saved_page, teams):
    game = parse_boxscore(
        saved_page("boxscores/201801010BRK.html"), "https://x/boxscores/201801010BRK.html", "201801010BRK", NOW
    )
    run = staged_run("boxscores", [game])
    run.args = {"game": "201801010BRK"}
    run.error_list = [{"url": "https://x/boxscores/201801010CHI.html", "reason": "HTTP 404"}]
    run.errors, run.log_tail, run.task_id = 1, "INFO spider closed", "abc-123"
    run.save()

    listing = staff_client.get(reverse("admin:scraping_scraperun_changelist"))
    assert listing.status_code == 200 and b"game=201801010BRK" in listing.content
    page = staff_client.get(reverse("admin:scraping_scraperun_change", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "HTTP 404" in body and "INFO spider closed" in body and "1 games" in body and "34 player lines" in body
    staged = staff_client.get(reverse("admin:scraping_stagedline_changelist") + f"?run={run.pk}&played=dnp")
    assert staged.status_code == 200 and b"Milton Doyle" in staged.content and b"Aaron Gordon" not in staged.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "action, history, message",
    [
        ("crawl_again", "Crawl boxscores again", "1 crawl(s) queued"),
        ("load_now", "Load the staged rows of scrape run {pk}", "1 load(s) queued on the etl queue"),
    ],
)
def test_run_actions_send_a_task_per_selected_run_and_record_it(
    staff_client, django_capture_on_commit_callbacks, action, history, message
):
    run = ScrapeRun.objects.create(spider="boxscores", args={"game": "201801010BRK"})
    with django_capture_on_commit_callbacks() as sent:  # not run: the test sends nothing to the broker
        response = staff_client.post(
            reverse("admin:scraping_scraperun_changelist"),
            {"action": action, "_selected_action": [run.pk]},
            follow=True,
        )
    assert len(sent) == 1
    entry = LogEntry.objects.get(object_id=str(run.pk))
    assert entry.change_message.startswith(history.format(pk=run.pk) + " [task ")
    assert message in response.content.decode()
