"""A handler reads its params through its type's model (``mediaq.jobparams``).

The API validated them at enqueue with the same model; reading them again here costs
microseconds and keeps a job written by other means (SQL, an older release) from running
with a bad value: such a job fails permanently, naming the key.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from mediaq.errors import InvalidParams
from mediaq.jobparams import JobParams
from mediaq.jobtypes import describe_errors

P = TypeVar("P", bound=JobParams)


def read_params(params: Any, model: type[P]) -> P:
    """``params`` as ``model``; InvalidParams (permanent) naming each bad key."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise InvalidParams(describe_errors(exc.errors(), "params")) from None
