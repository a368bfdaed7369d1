"""The staff Pipeline page in a real headless Chromium at a common laptop width (1400 px):
the Recent tasks table fits the page however long a task's arguments, worker or error are, and
the cut values can be read whole on hover. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django_celery_results.models import TaskResult

from nbaproject.testing.browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

LONG_ARGS = json.dumps(["Giannis Antetokounmpo", "MIL", "2024-03-01", {"note": "x" * 400}])
LONG_ERROR = "PlayerNotFound: " + "no player named Giannis Antetokounmpo on that date; " * 8
LONG_WORKER = "predictions-worker-with-a-long-name@build-host-0123456789.internal.example.org"


def test_recent_tasks_fit_a_1400_px_window_with_long_values_on_hover(live_server, browser, screenshots):
    from selenium.webdriver.support.ui import WebDriverWait

    for n in range(3):
        TaskResult.objects.create(
            task_id=f"0b9f6c2e-5d1a-4c7e-9a51-{n:012d}",
            task_name="predictions.tasks.resolve_player_and_game_step",
            task_args=LONG_ARGS,
            task_kwargs=json.dumps({"token": "t" * 64}),
            status="FAILURE",
            worker=LONG_WORKER,
            meta=json.dumps({"queue": "predictions-with-a-prefix.predictions"}),
            result=json.dumps({"exc_type": "PlayerNotFound", "exc_message": LONG_ERROR}),
        )
    User.objects.create_superuser("ops", password="ops-pw-123")
    browser.set_window_size(1400, 1000)
    sign_in(browser, f"{live_server.url}/admin/login/?next=/admin/pipeline/", "ops", "ops-pw-123")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('#tasks tbody tr:not(.muted)').length") == 3,
        message="the Recent tasks table was never filled",
    )
    screenshots(browser, "pipeline-1400px", full_page=True)

    widths = browser.execute_script("""
        var table = document.getElementById('tasks');
        return {table: table.scrollWidth, room: table.parentElement.clientWidth,
                page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth};""")
    assert widths["table"] <= widths["room"], f"Recent tasks is wider than its column: {widths}"
    assert widths["page"] <= widths["window"], f"the page scrolls sideways: {widths}"

    first = browser.execute_script("""
        var cells = document.querySelectorAll('#tasks tbody tr')[0].children;
        return Array.prototype.map.call(cells, function (td) {
            var node = td.querySelector('[title]');
            var link = td.querySelector('a');
            return {text: td.textContent, title: node ? node.title : null, href: link ? link.href : null};
        });""")
    task, args, worker, error = first[1], first[2], first[3], first[7]
    assert task["text"] == "resolve_player_and_game_step" and "/admin/django_celery_results/taskresult/" in task["href"]
    assert (
        "predictions.tasks.resolve_player_and_game_step" in task["title"]
        and "0b9f6c2e-5d1a-4c7e-9a51-" in task["title"]
    )
    assert args["title"] == LONG_ARGS and worker["title"] == LONG_WORKER
    assert error["title"] == f"PlayerNotFound: {LONG_ERROR}".strip(": ")
