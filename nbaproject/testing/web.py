"""Run the production web server (gunicorn, the Procfile's command and nbaproject/gunicorn.py) as a
child process of the test session, on the test database and broker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import BASE_DIR, ProcessGroup, worker_environment


def free_port(ports: range) -> int | None:
    """The first port of `ports` nobody listens on (None when all are taken)."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return None


class WebProcess(ProcessGroup):
    """`gunicorn nbaproject.wsgi -c python:nbaproject.gunicorn --access-logfile -` on 127.0.0.1:`port`;
    `start()` returns once /healthz answers. Its output (error and access logs) goes to `log_path`."""

    stop_timeout = 30

    def __init__(self, port: int, workers: int = 2, threads: int = 4, **env_overrides):
        self.port = port
        self.env = worker_environment(WEB_CONCURRENCY=workers, WEB_THREADS=threads, **env_overrides)
        self.log_path = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> WebProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "nbaproject.wsgi",
                    "-c",
                    "python:nbaproject.gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--access-logfile",
                    "-",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for(self.answers, timeout, "gunicorn to answer /healthz", describe=lambda: self.log()[-3000:])
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """(status, decoded JSON or bytes) of one request."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Token {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            content = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(content) if is_json else content

    def get(self, path: str) -> bytes:
        return self.request("GET", path)[1]

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        try:
            return self.request("GET", "/healthz")[1]["status"] == "ok"
        except OSError:
            return False
