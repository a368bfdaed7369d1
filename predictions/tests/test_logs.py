"""Following one prediction through the logs: the web process's lines and a real worker's carry its id."""
from __future__ import annotations

import json
import logging
import re

import pytest

from nbaproject.testing.waiting import wait_for
from predictions.models import STEP_NAMES
from predictions.tests.conftest import client_for, make_user, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_grep_the_request_id_tells_its_story_from_post_to_result(pipeline, caplog):
    client = client_for(make_user("alice"))
    with caplog.at_level(logging.INFO):
        accepted = client.post("/api/v1/predictions/", data=json.dumps(
            {"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"}), content_type="application/json")
    request_id = accepted.json()["id"]
    job = wait_until_done(request_id)
    assert job.status == "succeeded", job.message

    # The web process: stored and published, each record about this request.
    web = [r for r in caplog.records if r.name.startswith("predictions")]
    assert [r.getMessage().split(":")[0] for r in web] == [f"prediction {request_id} stored for alice",
                                                            f"prediction {request_id}"]
    assert {(r.job_kind, r.job_id) for r in web} == {("prediction", request_id)}

    # The worker: every step's lines name the request, the last says the result.
    def story():
        return [line for line in pipeline.log().splitlines() if request_id in line]

    tag = f"[prediction {request_id}]"
    wait_for(lambda: any(f"combine_step[{job.task_ids['combine']}] ended" in line for line in story()), 30,
             "the combine step's last line", describe=lambda: story()[-5:])
    lines = story()
    for step in STEP_NAMES:
        task = re.escape(f"predictions.tasks.{step}_step[{job.task_ids[step]}]")
        assert any(re.search(rf"{re.escape(tag)} task {task} started$", line) for line in lines), (step, lines)
        assert any(re.search(rf"{re.escape(tag)} task {task} ended: SUCCESS$", line) for line in lines), (step, lines)
    assert any(f"{tag} prediction {request_id} succeeded" in line for line in lines)


def test_a_worker_line_outside_any_request_names_none(pipeline):
    """Lines between tasks (the worker's own) carry no request: the context is cleared after each task."""
    log = pipeline.log().splitlines()
    ready = [line for line in log if line.endswith(" ready.")]
    assert ready and "[prediction" not in ready[0]
