"""The embedded default's filesystem broker (nbaproject/broker.py): a consumer that polls while a
message is being written sees the whole message or nothing, and the message is never lost."""

from __future__ import annotations

import json
from queue import Empty

from kombu import Connection, Producer, Queue
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes

from nbaproject import broker

PAYLOAD = {"step": "resolve", "request": 42}


def _connection(tmp_path, transport) -> Connection:
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    return Connection(
        "filesystem://localhost//",
        transport=transport,
        transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
        },
    )


def _poll_during_the_write(tmp_path, monkeypatch, transport, module):
    """Publish one message; while its bytes are being encoded for the file, a second connection
    (another process, in real life) polls the queue. Returns what that poll saw (a raw message or
    the error it raised; nothing when it found none) and what a poll afterwards finds."""
    seen = []
    with _connection(tmp_path, transport) as producer_side, _connection(tmp_path, transport) as consumer_side:
        Queue("jobs", routing_key="jobs")(producer_side.default_channel).declare()
        consumer = consumer_side.default_channel

        def encode_while_polled(text):
            try:
                seen.append(consumer._get("jobs"))
            except Empty:
                pass
            except json.JSONDecodeError as error:
                seen.append(error)
            return str_to_bytes(text)

        monkeypatch.setattr(module, "str_to_bytes", encode_while_polled)
        Producer(producer_side.default_channel).publish(PAYLOAD, routing_key="jobs", serializer="json")
        monkeypatch.undo()
        try:
            after = consumer.message_to_python(consumer._get("jobs")).decode()
        except Empty:
            after = None
    return seen, after


def test_a_consumer_never_sees_a_message_half_written_and_gets_it_whole_after(tmp_path, monkeypatch):
    seen, after = _poll_during_the_write(tmp_path, monkeypatch, broker.Transport, broker)
    assert seen == []
    assert after == PAYLOAD


def test_kombus_own_transport_shows_the_empty_file_this_subclass_avoids(tmp_path, monkeypatch):
    """Why nbaproject/broker.py exists (celery/kombu#1551): kombu's transport lets the poll take the
    empty file (the worker would stop on the JSONDecodeError) and the message is lost. When this
    fails because kombu fixed the race, the subclass can go."""
    seen, after = _poll_during_the_write(tmp_path, monkeypatch, filesystem.Transport, filesystem)
    assert len(seen) == 1 and isinstance(seen[0], json.JSONDecodeError)
    assert after is None


def test_a_message_given_back_comes_again_marked_redelivered(tmp_path):
    """A worker whose pool process died gives the message back (reject with requeue, acks_late): the
    next delivery says it was redelivered, as RabbitMQ's does (the prediction steps count a
    redelivered step's start by it), and a fresh message does not."""
    with _connection(tmp_path, broker.Transport) as connection:
        queue = Queue("jobs", routing_key="jobs")
        queue(connection.default_channel).declare()
        Producer(connection.default_channel).publish(PAYLOAD, routing_key="jobs", serializer="json")
        first = queue(connection.default_channel).get(no_ack=False)
        assert first.delivery_info.get("redelivered") is not True

        first.reject(requeue=True)
        again = queue(connection.default_channel).get(no_ack=False)
        assert again is not None and again.decode() == PAYLOAD
        assert again.delivery_info["redelivered"] is True
        again.ack()
