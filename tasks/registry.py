"""Which handler runs which job type: the type's declaration names it (``mediaq.jobtypes``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from mediaq.errors import PermanentError
from mediaq.jobtypes import JOB_TYPES

Handler = Callable[[Any], dict[str, Any] | None]


@cache
def handler_for(job_type: str) -> Handler:
    """The handler of a job type; a type not declared here fails permanently."""
    spec = JOB_TYPES.get(job_type)
    if spec is None:
        raise PermanentError(f"no handler for job type {job_type!r} on this worker")
    module, _, name = spec.handler.partition(":")
    fn: Handler = getattr(importlib.import_module(module), name)
    return fn
