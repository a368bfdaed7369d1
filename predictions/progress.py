"""The one state machine of a prediction request's steps: begin, finish (and hand over), fail (and give
up), succeed.

The lowest layer of the pipeline (docs/architecture.md, "Layers inside predictions"): the steps
(predictions.steps) call it, nothing here knows what a step computes. Every transition is one
conditional UPDATE of the request that also appends its `PredictionEvent`s from the updated row:

- `begin_step`: the first step claims a queued request for its run (token, task ids); every later
  step only proceeds while its run owns the running request. Each start is counted per step and
  run; a step started PREDICTIONS_MAX_STEP_STARTS times (a poison message that kills its worker
  process each time) fails the request instead ("given up").
- `finish_step`: the step's resolved fields, its seconds, and the percentage (each step counted
  once). With `then`, it also hands over: the steps whose messages come next are recorded as
  started (stage, step index, one start each, their "started" events after this step's "done"), in
  the same statement. Their first delivery then writes nothing before its own finish (`resume_step`
  reads the request when the step needs it; a model step reads nothing), so a prediction costs 6
  transitions instead of 10 and every step's start and end is still in the events. A redelivery
  (its worker died: the broker flags it) or a retry calls `begin_step`, which counts that start:
  the give-up on a poison step works as before (the first delivery's start was counted by the
  handover).
- `fail`: failed with a readable message and whose failure it is, unless another run owns it.
- `succeed`: the last step's result, stored in the same transaction as the final state.

A transition whose condition does not hold writes nothing and raises `StaleRun` (a redelivered
step of a finished request, a stale run after the sweeper re-queued it). On PostgreSQL the UPDATE
and the events' INSERT are one statement (a data-modifying CTE: one round trip, no transaction);
on SQLite (the embedded default) the same UPDATE with RETURNING, then the INSERT, in one
transaction. Only the JSON functions differ between the two (`_Dialect`).
"""

from __future__ import annotations

import functools
import json
import logging

from django.db import connection, models, transaction
from django.utils import timezone

from predictions.conf import max_step_starts
from predictions.models import STEP_LABELS, STEP_NAMES, PredictionEvent, PredictionRequest

logger = logging.getLogger(__name__)
Status = PredictionRequest.Status
FailureKind = PredictionRequest.FailureKind


class StaleRun(Exception):
    """This step belongs to a chain run that no longer owns the request (it was re-queued or is done)."""


# --- SQL of the two databases: the JSON functions ---------------------------------------------------------


class _Dialect:
    """One database's JSON functions as SQL templates: `{0}`, `{1}`, `{2}` are the arguments (SQL
    text: a column, a parameter, an expression). Each template is a method of the dialect
    (`sql.append("steps_done", "%(step)s")`); `least` is the name of its two-argument minimum. The
    transitions call them with the same few arguments every time, so each text is built once."""

    def __init__(self, *, least: str, **templates: str):
        self.least = least
        for name, template in templates.items():
            setattr(self, name, functools.cache(template.format))


_SQLITE_KEY = "'$.\"' || {1} || '\"'"  # the JSON path of an object's key, from a text parameter

_Postgres = _Dialect(
    least="least",
    json="{0}::jsonb",  # a JSON parameter
    get_int="coalesce(({0} ->> {1})::int, 0)",  # column's integer at key (0 when absent)
    set_key="jsonb_set({0}, ARRAY[{1}], to_jsonb({2}))",  # column with key set to value
    object1="jsonb_build_object({0}, {1})",  # {key: value}
    has="{0} @> jsonb_build_array({1}::text)",  # the column's array holds the text item
    length="jsonb_array_length({0})",
    append="{0} || jsonb_build_array({1}::text)",
    merge="{0} || {1}::jsonb",  # the column's object updated with a JSON parameter's keys
)
_Sqlite = _Dialect(
    least="min",
    json="json({0})",
    get_int=f"coalesce(json_extract({{0}}, {_SQLITE_KEY}), 0)",
    set_key=f"json_set({{0}}, {_SQLITE_KEY}, {{2}})",
    object1="json_object({0}, {1})",
    has="EXISTS (SELECT 1 FROM json_each({0}) WHERE value = {1})",
    length="json_array_length({0})",
    append="json_insert({0}, '$[#]', {1})",
    merge="json_patch({0}, {1})",
)


def _sql():
    return _Postgres if connection.vendor == "postgresql" else _Sqlite


def _apply(
    request_id,
    changes: str,
    condition: str,
    message: str,
    params: dict,
    *,
    row: bool = False,
    result: models.Model | None = None,
    events: list[tuple[str, str, bool]] | None = None,
    handed: str = "TRUE",
):
    """Update the request (when `condition` holds) and append its event from the updated row: the
    UPDATE's row lock orders the events. Returns whether the condition held (nothing is written when
    it did not); with `row`, the updated request instead (None: the condition did not hold), read by
    the same statement. `result`, an unsaved row pointing to the request (`request_id`), is inserted
    with the change (PostgreSQL: in the same statement). `events` replaces the one event (`message`,
    the row's step) with several, in this order: (step, message, always), each with the updated
    row's status and percent; one not `always` is written only when `handed` (SQL on the updated
    row) holds."""
    request_table, event_table = PredictionRequest._meta.db_table, PredictionEvent._meta.db_table
    params = {
        **params,
        "id": request_id,
        "message": message[:500],
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
    }
    update = f"UPDATE {request_table} SET {changes}, updated_at = %(now)s WHERE id = %(id)s AND ({condition})"
    columns = "request_id, status, step, step_index, step_count, percent, message, created_at"
    event_values = "id, status, stage, step_index, step_count, percent"
    for number, (step, text, always) in enumerate(events or ()):
        params.update({f"e{number}s": step, f"e{number}i": _index(step), f"e{number}m": text[:500]})
        params[f"e{number}a"] = always
    if connection.vendor == "postgresql":
        if events:
            listed = ", ".join(
                f"(%(e{n}s)s::text, %(e{n}i)s::int, %(e{n}m)s::text, %(e{n}a)s::boolean, {n})"
                for n in range(len(events))
            )
            event = (
                f"INSERT INTO {event_table} ({columns}) SELECT changed.id, changed.status, e.step, e.step_index, "
                "changed.step_count, changed.percent, e.message, %(now)s "
                f"FROM changed CROSS JOIN (VALUES {listed}) AS e (step, step_index, message, always, ord) "
                "WHERE e.always OR changed.handed ORDER BY e.ord RETURNING id"
            )
        else:
            event = (
                f"INSERT INTO {event_table} ({columns}) SELECT {event_values}, %(message)s, %(now)s "
                "FROM changed RETURNING id"
            )
        parts = [
            f"changed AS ({update} RETURNING *{f', {handed} AS handed' if events else ''})",
            f"event AS ({event})",
        ]
        if result is not None:
            names, values = _insert_values(result, params)
            parts.append(
                f"stored AS (INSERT INTO {result._meta.db_table} ({', '.join(names)}) "
                f"SELECT {', '.join(values)} FROM changed RETURNING {result._meta.pk.column})"
            )
        last = "stored" if result is not None else "event"
        query = f"WITH {', '.join(parts)} " + ("SELECT * FROM changed" if row else f"SELECT * FROM {last}")
        if row:
            found = list(PredictionRequest.objects.raw(query, params))
            return found[0] if found else None
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            written = cursor.fetchone()
        if written is not None and result is not None:
            result.pk, result._state.adding, result._state.db = written[0], False, connection.alias
        return written is not None
    with transaction.atomic(), connection.cursor() as cursor:
        key = PredictionRequest._meta.pk.get_db_prep_value(request_id, connection)
        cursor.execute(f"{update} RETURNING {event_values}, {handed}", {**params, "id": key})
        changed = cursor.fetchone()
        if changed is None:
            return None if row else False
        (pk, status, stage, index, count, percent), was_handed = changed[:6], bool(changed[6])
        rows = (
            [
                (pk, status, step, _index(step), count, percent, text[:500], params["now"])
                for step, text, always in events
                if always or was_handed
            ]
            if events
            else [(pk, status, stage, index, count, percent, params["message"], params["now"])]
        )
        cursor.executemany(f"INSERT INTO {event_table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        if result is not None:
            result.save(force_insert=True)
    return PredictionRequest.objects.get(pk=request_id) if row else True


def _insert_values(result: models.Model, params: dict) -> tuple[list[str], list[str]]:
    """Columns and SQL values of `result`'s INSERT from the changed request (its `request_id` is the
    request's id); the values go into `params`."""
    names, values = [], []
    for number, field in enumerate(result._meta.concrete_fields):
        if field.primary_key and field.db_returning:  # the serial id
            continue
        names.append(field.column)
        if field.attname == "request_id":
            values.append("changed.id")
            continue
        params[f"r{number}"] = field.get_db_prep_save(field.pre_save(result, add=True), connection)
        values.append(f"%(r{number})s")
    return names, values


def _index(step: str) -> int:
    return STEP_NAMES.index(step) + 1


def _owned(token_param: str = "%(token)s") -> str:
    return f"status = 'running' AND run_token = {token_param}"


# --- The transitions ----------------------------------------------------------------------------------------


def begin_step(request_id, token: str, step: str, task_ids: dict | None = None) -> PredictionRequest:
    """Record that a step started; the first step claims the request for this chain run
    (and records that run's task ids). Returns the request as updated (read by the same statement).

    Raises StaleRun when another run owns the request or it is already finished, and fails the
    request (then raises StaleRun) when this step already started max_step_starts() times in this run."""
    sql = _sql()
    first = step == STEP_NAMES[0]
    starts = sql.get_int("step_starts", "%(step)s")
    condition = f"(status = 'queued' OR ({_owned()})) AND " if first else f"{_owned()} AND "
    condition += f"(status = 'queued' OR {starts} < %(max_starts)s)"
    # Only a queued request's claim resets the run's fields (a redelivered first step keeps them).
    fresh = "CASE WHEN status = 'queued' THEN {} ELSE {} END"
    counted = sql.set_key("step_starts", "%(step)s", f"{starts} + 1")
    changes = f"""run_token = %(token)s, status = 'running', stage = %(step)s, step_index = %(index)s,
        started_at = {fresh.format("coalesce(started_at, %(now)s)", "started_at")},
        steps_done = {fresh.format(sql.json("'[]'"), "steps_done")},
        timings = {fresh.format(sql.json("'{}'"), "timings")},
        step_starts = {fresh.format(sql.object1("%(step)s", "1"), counted)},
        task_ids = {fresh.format(f"coalesce({sql.json('%(task_ids)s')}, task_ids)", "task_ids")}"""
    params = {
        "token": token,
        "step": step,
        "index": _index(step),
        "max_starts": max_step_starts(),
        "task_ids": json.dumps(task_ids) if task_ids else None,
    }
    request = _apply(request_id, changes, condition, STEP_LABELS[step], params, row=True)
    if request is not None:
        return request
    status, owner, step_starts = (
        PredictionRequest.objects.filter(pk=request_id).values_list("status", "run_token", "step_starts").get()
    )
    if status == Status.RUNNING and owner == token:
        _give_up(request_id, token, step, step_starts.get(step, 0))
    if status in PredictionRequest.TERMINAL:
        raise StaleRun(f"request {request_id} is already {status}")
    raise StaleRun(f"request {request_id} is run by {owner}, not {token}")


def _give_up(request_id, token: str, step: str, starts: int):
    """Fail the request of a step that keeps dying with its worker, and stop this attempt."""
    logger.error(
        "prediction %s: step %s started %d times in run %s without finishing; failing the request",
        request_id,
        step,
        starts,
        token,
    )
    fail(request_id, token, gave_up_message(step, starts))
    raise StaleRun(f"request {request_id}: step {step} given up after {starts} starts")


def gave_up_message(step: str, starts: int) -> str:
    return (
        f"the step '{STEP_LABELS[step]}' was started {starts} times without finishing (its worker process "
        "stopped each time); it was given up on and the team has the details. Please try again later."
    )


def finish_step(
    request_id,
    token: str,
    step: str,
    seconds: float,
    *,
    then: tuple[str, ...] = (),
    once_all_done: bool = False,
    **fields,
) -> None:
    """Record a finished step (and any fields it resolved) and advance the percentage. `then`: the
    steps this one hands over to, whose messages are sent next: the same statement records that they
    started (stage, step index, one start each in `step_starts`, their "started" events after this
    step's "done"), so their first delivery writes nothing before its own finish. With
    `once_all_done` (the last of parallel steps hands over) only when every step but `then` is done."""
    sql = _sql()
    params = {"token": token, "step": step, "timing": json.dumps({step: round(seconds, 4)})}
    assignments = []
    for number, (name, value) in enumerate(fields.items()):
        field = PredictionRequest._meta.get_field(name)
        if field.is_relation:
            value = value.pk if value is not None else None
        params[f"f{number}"] = field.get_db_prep_save(value, connection)
        assignments.append(f"{field.column} = %(f{number})s")
    # The percentage counts this step once, however often it is recorded (a re-run step).
    once = f"CASE WHEN {sql.has('steps_done', '%(step)s')} THEN 0 ELSE 1 END"
    handed = "TRUE"  # whether it handed over, on the updated row (the RETURNING's)
    if then:
        if once_all_done:  # the last of parallel steps: this one done, only `then` left
            handed = f"{sql.length('steps_done')} + {len(then)} >= step_count"
            before = f"{sql.length('steps_done')} + {once} + {len(then)} >= step_count"  # the same, before the change
            when = f"CASE WHEN {before} THEN {{}} ELSE {{}} END".format
        else:
            when = lambda value, _unchanged: value  # noqa: E731
        counted = "step_starts"
        for number, name in enumerate(then):
            params[f"n{number}"] = name
            counted = sql.set_key(counted, f"%(n{number})s", f"{sql.get_int('step_starts', f'%(n{number})s')} + 1")
        params["next_index"] = _index(then[-1])
        assignments += [
            f"stage = {when(f'%(n{len(then) - 1})s', 'stage')}",
            f"step_index = {when('%(next_index)s', 'step_index')}",
            f"step_starts = {when(counted, 'step_starts')}",
        ]
    changes = ", ".join(
        [
            *assignments,
            f"percent = CAST({sql.least}(99, round(100.0 * ({sql.length('steps_done')} + {once}) / step_count)) "
            "AS INTEGER)",
            f"steps_done = CASE WHEN {once} = 1 THEN {sql.append('steps_done', '%(step)s')} ELSE steps_done END",
            f"timings = {sql.merge('timings', '%(timing)s')}",
        ]
    )
    done = f"{STEP_LABELS[step]}: done"
    events = [(step, done, True), *((name, STEP_LABELS[name], not once_all_done) for name in then)]
    if not _apply(request_id, changes, _owned(), done, params, events=events, handed=handed):
        raise StaleRun(f"request {request_id} is no longer run by {token}")


def resume_step(
    request_id, token: str, step: str, row: bool = True, annotations: dict | None = None
) -> PredictionRequest | None:
    """The first delivery of a step whose start the previous step's finish recorded (`then`): the
    request as it stands (with `row` False, None: only its run and starts are read; `annotations`,
    expressions read with it in the same statement), read without a write. StaleRun when this run
    does not own it (any more); a start that was not recorded (the previous step's finish did not
    hand over to it: a model kind the process that ran it does not know) is recorded now, by
    begin_step, so that every delivery of a step counts against max_step_starts()."""
    found = PredictionRequest.objects.filter(pk=request_id)
    if row:
        request = (found.annotate(**annotations) if annotations else found).first()
        state = None if request is None else (request.status, request.run_token, request.step_starts)
    else:
        request, state = None, found.values_list("status", "run_token", "step_starts").first()
    if state is None:
        raise StaleRun(f"request {request_id} no longer exists")
    status, owner, step_starts = state
    if status in PredictionRequest.TERMINAL:
        raise StaleRun(f"request {request_id} is already {status}")
    if status != Status.RUNNING or owner != token:
        raise StaleRun(f"request {request_id} is run by {owner or 'no run'}, not {token}")
    if step_starts.get(step, 0) < 1:
        return begin_step(request_id, token, step)
    return request


def succeed(request_id, token: str, step: str, timings: dict, message: str, result: models.Model) -> models.Model:
    """The last step is done: the request succeeded (percent 100, its timings), and `result` (an
    unsaved row pointing to the request, its `Prediction`) is stored with that change, in one
    statement on PostgreSQL (one transaction on SQLite). Returns `result`, saved; StaleRun
    (nothing written) when this run no longer owns the request."""
    sql = _sql()
    changes = (
        f"status = 'succeeded', stage = %(step)s, step_index = step_count, percent = 100, "
        f"finished_at = %(now)s, timings = {sql.json('%(timings)s')}, "
        f"steps_done = CASE WHEN {sql.has('steps_done', '%(step)s')} THEN steps_done "
        f"ELSE {sql.append('steps_done', '%(step)s')} END"
    )
    if not _apply(
        request_id,
        changes,
        _owned(),
        message,
        {"token": token, "step": step, "timings": json.dumps(timings)},
        result=result,
    ):
        raise StaleRun(f"request {request_id} is no longer run by {token}")
    return result


def fail(request_id, token: str | None, message: str, kind: str = FailureKind.SYSTEM) -> bool:
    """Mark the request failed with a human-readable message (unless it is finished or another run
    owns it; with `token` None, whatever run owns it); `kind` says whose failure it is (the metrics
    count them apart). False when nothing changed."""
    condition = "status IN ('queued', 'running')" + (" AND run_token = %(token)s" if token is not None else "")
    changes = "status = 'failed', message = %(failure)s, failure_kind = %(kind)s, finished_at = %(now)s"
    failed = _apply(request_id, changes, condition, message, {"token": token, "failure": message, "kind": str(kind)})
    if failed:
        logger.info("prediction %s failed (%s): %s", request_id, kind, message)
    return failed


def record_event(request: PredictionRequest, message: str = "") -> None:
    """Append a progress event with the request's current state, for the transitions outside a run
    (the sweeper re-queues or gives up, staff retry): call it under the request's row lock."""
    PredictionEvent.objects.create(
        request=request,
        status=request.status,
        step=request.stage,
        step_index=request.step_index,
        step_count=request.step_count,
        percent=request.percent,
        message=message[:500],
    )
