"""Pure parsing of job params: a bad value is InvalidParams (permanent) naming the key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mediaq.errors import InvalidParams

MAX_VIDEO_IDS = 64


def _number(params: Mapping[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(f"{key} must be a number, not {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidParams(f"{key} must be a finite number")
    return float(value)


def get_float(
    params: Mapping[str, Any],
    key: str,
    default: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """A number param within bounds, or ``default`` when absent (absent and no default: error)."""
    value = _number(params, key)
    if value is None:
        if default is None:
            raise InvalidParams(f"{key} is required")
        return default
    if minimum is not None and value < minimum:
        raise InvalidParams(f"{key} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise InvalidParams(f"{key} must be at most {maximum}, not {value}")
    return value


def get_int(
    params: Mapping[str, Any],
    key: str,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A whole-number param within bounds, or ``default`` when absent."""
    value = params.get(key)
    if value is None:
        if default is None:
            raise InvalidParams(f"{key} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidParams(f"{key} must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidParams(f"{key} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise InvalidParams(f"{key} must be at most {maximum}, not {value}")
    return int(value)


def get_bool(params: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"{key} must be true or false, not {value!r}")
    return value


def get_str(
    params: Mapping[str, Any],
    key: str,
    default: str | None = None,
    choices: Sequence[str] | None = None,
    max_length: int = 1000,
) -> str:
    """A string param (from ``choices`` when given), or ``default`` when absent."""
    value = params.get(key)
    if value is None:
        if default is None:
            raise InvalidParams(f"{key} is required")
        return default
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidParams(f"{key} must be a non-empty string of at most {max_length} characters")
    if choices is not None and value not in choices:
        raise InvalidParams(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def get_optional_str(params: Mapping[str, Any], key: str, max_length: int = 1000) -> str | None:
    if params.get(key) is None:
        return None
    return get_str(params, key, max_length=max_length)


def video_id(params: Mapping[str, Any], key: str = "videoId") -> int:
    """The id of the video a job works on."""
    return get_int(params, key, minimum=1, maximum=2**31 - 1)


def video_ids(
    params: Mapping[str, Any], minimum: int = 1, maximum: int = MAX_VIDEO_IDS, key: str = "videoIds"
) -> list[int]:
    """A list of distinct-or-repeated video ids of the allowed length."""
    value = params.get(key)
    if not isinstance(value, list):
        raise InvalidParams(f"{key} must be a list of video ids")
    if not minimum <= len(value) <= maximum:
        raise InvalidParams(f"{key} must hold {minimum} to {maximum} ids, not {len(value)}")
    ids = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item < 2**31:
            raise InvalidParams(f"{key} must hold positive whole numbers, not {item!r}")
        ids.append(item)
    return ids
