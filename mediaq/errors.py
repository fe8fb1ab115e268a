"""The error hierarchy every role shares.

A ``PermanentError`` (bad params, unreadable file) fails a job at once; any other
exception raised by a handler is transient and retried with backoff.
"""

from __future__ import annotations


class MediaqError(Exception):
    """Base class of mediaq's own errors."""


class ConfigError(MediaqError):
    """A setting is missing or malformed."""


class PermanentError(MediaqError):
    """The job can never succeed as written; do not retry it."""


class InvalidParams(PermanentError):
    """The job's parameters are invalid."""


class UnreadableMedia(PermanentError):
    """A media file could not be read or is not a video."""


class JobCancelled(MediaqError):
    """The job was cancelled while it ran; the handler stops."""


class AttemptSuperseded(MediaqError):
    """This attempt no longer owns the job (fenced out); nothing it writes counts."""


class PreflightFailed(MediaqError):
    """The GPU no longer has the memory the job was admitted with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(MediaqError):
    """The addressed row does not exist."""


class Conflict(MediaqError):
    """The request conflicts with the row's current state."""


class ValidationError(MediaqError):
    """Input failed validation; the message says how."""
