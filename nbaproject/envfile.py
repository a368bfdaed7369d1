"""The one place the `.env` file is read, by settings.py and by `make run`'s process starter
(nbaproject/start.py), so every process sees the same configuration: real environment variables
win over the file, as documented in .env.example."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent


def env_file_path() -> Path:
    """ENV_FILE (only as a real environment variable; os.devnull for none) or the project's .env."""
    return Path(os.environ.get("ENV_FILE") or BASE_DIR / ".env")


def load_env_file() -> Path:
    """Add the file's variables to os.environ where the environment does not set them already. An
    empty value in the file means "the default" (.env.example), so it is not set at all: programs that
    read a variable themselves (gunicorn's WEB_CONCURRENCY) would take "" for a value."""
    path = env_file_path()
    for name, value in dotenv_values(path).items():
        if value and name not in os.environ:
            os.environ[name] = value
    return path
