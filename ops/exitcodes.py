"""The exit codes of ``mediaq``, one meaning each, for scripts (docs/operations.md lists them)."""

from __future__ import annotations

OK = 0  # done: the command did what it was asked
FAILED = 1  # a followed job ended other than completed; doctor found a problem; demo failed
USAGE = 2  # a bad flag, setting or parameter, or a service that cannot be reached at start
NOT_FOUND = 3  # a job named on the command line does not exist
CONFLICT = 4  # a job is in a state that does not allow the action (cancel a completed job)
UNAVAILABLE = 5  # PostgreSQL or Redis did not answer, or the schema is not migrated
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES = {
    OK: "done",
    FAILED: "a followed job did not complete, `doctor` found a problem, or the demo failed",
    USAGE: "a bad flag, setting or parameter (nothing was changed)",
    NOT_FOUND: "a job named on the command line does not exist",
    CONFLICT: "a job's state does not allow the action (e.g. cancel a completed job)",
    UNAVAILABLE: "PostgreSQL or Redis did not answer, or the database is not migrated",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
