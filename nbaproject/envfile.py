"""The one place the `.env` file is read, by settings.py and by `make run`'s process starter
(nbaproject/start.py), so every process sees the same configuration: real environment variables
win over the file, as documented in .env.example."""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent


def env_file_path() -> Path:
    """ENV_FILE (only as a real environment variable; os.devnull for none) or the project's .env."""
    return Path(os.environ.get("ENV_FILE") or BASE_DIR / ".env")


def load_env_file() -> Path:
    """Add the file's variables to os.environ where the environment does not set them already."""
    path = env_file_path()
    load_dotenv(path, override=False)
    return path
