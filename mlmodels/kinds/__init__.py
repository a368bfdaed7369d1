"""The registry of model kinds: the modules listed in settings.MODEL_KINDS, each exposing `KIND`.

Training fits every registered kind, serving loads the active version of each, the ensemble
combines them, and the prediction pipeline runs one parallel step per kind. Adding a kind is one
module (see mlmodels/kinds/base.py and docs/models.md) plus its dotted path in MODEL_KINDS.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mlmodels.kinds.base import Fitted, ModelKind

__all__ = ["Fitted", "ModelKind", "UnknownKind", "choices", "get", "names", "registered"]


class UnknownKind(LookupError):
    """A kind name that no module in settings.MODEL_KINDS registers."""


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> dict[str, ModelKind]:
    kinds: dict[str, ModelKind] = {}
    for path in paths:
        try:
            module = import_module(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"MODEL_KINDS: cannot import {path!r} ({exc})") from exc
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, ModelKind) or not kind.name:
            raise ImproperlyConfigured(f"MODEL_KINDS: {path!r} has no KIND (a named mlmodels.kinds.ModelKind)")
        if not kind.name.isidentifier() or len(kind.name) > 16:
            raise ImproperlyConfigured(
                f"MODEL_KINDS: kind name {kind.name!r} of {path!r} must be an identifier "
                "of at most 16 characters (it names a task and a ModelVersion.algorithm)"
            )
        if kind.name in kinds or kind.name in ("resolve", "features", "combine"):
            raise ImproperlyConfigured(f"MODEL_KINDS: kind name {kind.name!r} of {path!r} is used twice")
        kinds[kind.name] = kind
    if not kinds:
        raise ImproperlyConfigured("MODEL_KINDS is empty: list at least one model kind module")
    return kinds


def registered() -> dict[str, ModelKind]:
    """{name: kind} of settings.MODEL_KINDS, in the setting's order."""
    return _load(tuple(settings.MODEL_KINDS))


def names() -> list[str]:
    return list(registered())


def get(name: str) -> ModelKind:
    try:
        return registered()[name]
    except KeyError:
        raise UnknownKind(f"model kind {name!r} is not in MODEL_KINDS ({', '.join(names())})") from None


def choices() -> list[tuple[str, str]]:
    """ModelVersion.algorithm choices: the registered kinds."""
    return [(name, name) for name in names()]
