"""The README and docs/ stay usable: the README's sections, links that lead somewhere, real commands.

The README is a short guide with a fixed set of sections; the reference lives in docs/. These checks
catch a renamed heading, a moved file, a link to a section that no longer exists, or a
`manage.py <command>` / `celery -Q <queue>` in the text that the project does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

README_SECTIONS = [
    "Installation",
    "Running the unit tests",
    "Starting a Worker Process",
    "Starting the Web Scraping Process",
    "Starting the ETL Process",
    "Example",
    "Documentation",
    "Contributing",
    "License",
]
TOPIC_PAGES = [
    "architecture",
    "data",
    "scraping",
    "models",
    "api",
    "dashboard",
    "reliability",
    "benchmarks",
    "configuration",
]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks (where `#` starts a shell comment, not a heading)."""
    return FENCE.sub("", text)


def headings(text: str, level: int) -> list[str]:
    marks = "#" * level
    return [line[level + 1 :].strip() for line in prose(text).splitlines() if re.match(rf"{marks} \S", line)]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for level in range(1, 7):
        for heading in headings(path.read_text(), level):
            anchor = github_anchor(heading)
            count = seen.get(anchor, 0)
            found.add(anchor if count == 0 else f"{anchor}-{count}")
            seen[anchor] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    return [
        target for target in LINK.findall(prose(path.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]  # http:, https:, mailto: are not checked here


def test_readme_has_exactly_the_guide_sections_in_order():
    assert headings(README.read_text(), 2) == README_SECTIONS


def test_readme_set_up_is_the_two_make_commands():
    first_block = re.search(r"^```bash\n(.*?)^```", README.read_text(), re.S | re.M).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert [command for command in commands if command] == ["make run", "make test"]


def test_every_topic_has_its_page_and_the_readme_links_it():
    readme_links = set(relative_links(README))
    for topic in TOPIC_PAGES:
        page = ROOT / "docs" / f"{topic}.md"
        assert page.exists(), f"docs/{topic}.md is missing"
        assert f"docs/{topic}.md" in readme_links, f"README.md does not link docs/{topic}.md"
    assert (ROOT / "docs" / "README.md").exists()


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_an_existing_file_and_heading(path):
    broken = []
    for target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor in {linked.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_management_command_named_exists(path):
    named = set(re.findall(r"manage\.py\s+([a-z][a-z_]*)", path.read_text()))
    unknown = sorted(named - set(get_commands()))
    assert not unknown, f"{path.relative_to(ROOT)} names management commands that do not exist: {unknown}"


def test_readme_commands_run_from_the_venv_without_activating_it():
    commands = [
        line.strip()
        for block in re.findall(r"^```bash\n(.*?)^```", README.read_text(), re.S | re.M)
        for line in block.splitlines()
    ]
    bare = [line for line in commands if re.match(r"(python|pytest|celery|gunicorn)\b", line)]
    assert not bare, f"README commands that need an activated virtualenv (use .venv/bin/...): {bare}"


def test_worker_queues_named_in_the_readme_exist():
    options = re.findall(r"-Q\s+([\w.,]+)", README.read_text())
    assert options, "the README shows no worker command"
    # A name may carry a CELERY_QUEUE_PREFIX ("myprefix.predictions"): the part after it must be a queue.
    queues = {queue.rsplit(".", 1)[-1] for option in options for queue in option.split(",")}
    unknown = sorted(queues - set(settings.QUEUE_NAMES))
    assert not unknown, f"README workers consume queues the project does not route to: {unknown}"


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 nbaproject contributors" in text
