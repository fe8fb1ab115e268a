"""Which handler runs which job type. Handlers register themselves on import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediaq.errors import PermanentError

Handler = Callable[[Any], dict[str, Any] | None]

_HANDLERS: dict[str, Handler] = {}


def handler(job_type: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of ``job_type``."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[job_type] = fn
        return fn

    return register


def handler_for(job_type: str) -> Handler:
    """The handler of a job type; a type with no handler fails permanently."""
    import tasks.handlers  # noqa: F401  (registers every handler)

    try:
        return _HANDLERS[job_type]
    except KeyError:
        raise PermanentError(f"no handler for job type {job_type!r} on this worker") from None


def registered_types() -> list[str]:
    import tasks.handlers  # noqa: F401

    return sorted(_HANDLERS)
