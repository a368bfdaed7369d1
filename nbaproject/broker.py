"""The embedded default's broker: kombu's filesystem transport, with every message whole before a
consumer can see it.

kombu's filesystem `_put` creates the message file in the queue folder and then writes into it, while
`_get` in another process may take the file in between, read an empty payload and stop the worker with
"Unrecoverable error: JSONDecodeError" (celery/kombu#1551; seen on a fresh `make run` when the batch
worker published while the prediction worker polled). Here a message is written under a name no queue
matches and then renamed into place: a rename within one folder is atomic, so a consumer reads the
whole message or nothing. settings.py selects this transport when the broker URL is `filesystem://`.

A message given back (a worker rejecting it with requeue: its pool process died under acks_late) comes
back marked redelivered, as RabbitMQ marks it: kombu's virtual transports set the flag where no
consumer reads it. The prediction steps count a redelivered step's starts by it (predictions.tasks).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written aside, then renamed to kombu's own message name."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f".{name}.partial")  # `_get` matches no queue on it
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _restore(self, message):
        """Put a message given back onto its queue again, flagged redelivered in its delivery info
        (what `message.delivery_info["redelivered"]` and Celery's task request read)."""
        message.delivery_info["redelivered"] = True
        super()._restore(message)


class Transport(filesystem.Transport):
    Channel = Channel
