"""`manage.py load_gamelogs`: summary table or one JSON object, clear one-line errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from etl.models import EtlRun, PlayerGameLog, QuarantinedRow
from etl.services import SUMMARY_KEYS
from etl.tests.conftest import field, lines_between, season_lines, with_field, write_lines
from nbaproject.testing.commands import run_manage
from nbaproject.testing.worker import worker_environment


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_gamelogs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_json_prints_one_object_with_the_summary_keys(one_day):
    out, _ = run(str(one_day), "--json")
    summary = json.loads(out)
    lines = lines_between("2024-01-26", "2024-01-26")
    assert set(summary) == set(SUMMARY_KEYS)
    assert summary["read"] == summary["inserted"] == len(lines)
    assert summary["games_created"] == len({field(line, "GAME_ID") for line in lines}) and summary["rejected"] == 0
    again = json.loads(run(str(one_day), "--json")[0])
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, summary["read"])


@pytest.mark.django_db
def test_table_and_progress_bar(one_day):
    out, err = run(str(one_day))
    assert "1 file(s) loaded" in out
    for key in SUMMARY_KEYS:
        assert key in out
    assert "rows" in err and "100%" in err  # tqdm on stderr


@pytest.mark.django_db
def test_skip_loaded_reports_the_skipped_files(one_day):
    run(str(one_day))
    out, _ = run(str(one_day), "--skip-loaded")
    assert "0 file(s) loaded, 1 already loaded and skipped" in out
    assert json.loads(run(str(one_day), "--skip-loaded", "--json")[0])["read"] == 0


@pytest.mark.django_db
def test_bad_paths_and_columns_are_command_errors(tmp_path):
    with pytest.raises(CommandError, match=r"nowhere\.csv: no such file \(nothing was loaded\)"):
        run(str(tmp_path / "nowhere.csv"))
    header, lines = season_lines()
    short = write_lines(
        tmp_path / "short.csv", [line.rsplit(",", 2)[0] for line in lines[:20]], header=header.rsplit(",", 2)[0]
    )
    with pytest.raises(CommandError, match="short.csv: missing column PLUS_MINUS"):
        run(str(short), "--json")
    with pytest.raises(CommandError, match="give one or more CSV paths, or --bundled"):
        run()
    assert PlayerGameLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_user_mistake_exits_1_with_one_line_and_no_traceback(tmp_path):
    env = worker_environment(DJANGO_SETTINGS_MODULE="nbaproject.settings")
    result = run_manage("load_gamelogs", str(tmp_path / "missing.csv.gz"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"CommandError: {tmp_path / 'missing.csv.gz'}: no such file (nothing was loaded)"
    assert EtlRun.objects.get().status == EtlRun.Status.FAILED


@pytest.mark.django_db
def test_quarantined_rows_are_counted_per_reason_in_the_terminal(tmp_path):
    lines = list(lines_between("2024-01-26", "2024-01-26"))
    lines[0] = with_field(lines[0], "PTS", "250")
    lines.append(lines[1])
    out, _ = run(str(write_lines(tmp_path / "broken.csv", lines)))
    rejected = QuarantinedRow.objects.count()
    held = QuarantinedRow.objects.filter(reason__startswith="held back").count()
    assert f"{rejected} row(s) quarantined" in out
    assert "      1  PTS is above 100\n" in out
    assert "      1  duplicate row (the same line appears earlier)\n" in out
    assert f"{held:>7}  held back with its game (another line of the game was rejected)\n" in out


@pytest.mark.django_db
def test_a_gz_file_that_is_not_gzip_is_a_command_error(tmp_path):
    page = tmp_path / "logs.csv.gz"
    page.write_text("PLAYER_ID,PLAYER_NAME\n1,someone\n")
    with pytest.raises(CommandError, match=r"logs\.csv\.gz: not a gzip file .*\(nothing was loaded\)"):
        run(str(page))
