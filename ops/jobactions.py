"""``mediaq cancel`` / ``mediaq retry``: the same transitions as the job API, for many ids.

Each id is its own transaction, so one unknown id does not undo the others. The exit code is
the worst outcome: ``NOT_FOUND`` before ``CONFLICT`` before ``OK``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from mediaq.db import transaction
from mediaq.errors import Conflict, NotFound
from mediaq.jobcontrol import cancel_job, retry_job
from mediaq.settings import Settings
from ops.exitcodes import CONFLICT, NOT_FOUND, OK

ACTIONS: dict[str, tuple[Callable[[Session, int], None], str]] = {
    "cancel": (cancel_job, "cancelled"),
    "retry": (retry_job, "pending again"),
}


def worst(codes: Sequence[int]) -> int:
    """The exit code of several outcomes (pure)."""
    for code in (NOT_FOUND, CONFLICT):
        if code in codes:
            return code
    return OK


def act_on_jobs(settings: Settings, verb: str, job_ids: Sequence[int]) -> int:
    action, done = ACTIONS[verb]
    codes = []
    for job_id in job_ids:
        try:
            with transaction(settings.database_url) as session:
                action(session, job_id)
        except NotFound:
            print(f"job {job_id}: not found", file=sys.stderr)
            codes.append(NOT_FOUND)
        except Conflict as exc:
            print(f"job {job_id}: {exc}", file=sys.stderr)
            codes.append(CONFLICT)
        else:
            print(f"job {job_id}: {done}")
            codes.append(OK)
    return worst(codes)
