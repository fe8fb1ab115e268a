"""Only ``mediaq/transitions.py`` writes ``jobs.status``.

Reads every Python module of the product (not tests, benches or migrations) and looks for
statements that set a job's status: SQL ``UPDATE jobs ... SET ... status =`` (raw text,
f-strings included) and SQLAlchemy ``update(Job)``/attribute writes of ``status``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "mediaq" / "transitions.py"
SKIP_DIRS = {"tests", "bench", "migrations", ".venv", "node_modules", "build", "dist"}

# UPDATE jobs [AS] [alias] SET <assignments> up to FROM/WHERE/RETURNING or the string's end
SQL_UPDATE = re.compile(
    r"UPDATE\s+jobs\b(?:\s+(?:AS\s+)?(?!SET\b)\w+)?\s+SET\b(?P<set>.*?)(?:\bFROM\b|\bWHERE\b|\bRETURNING\b|\"\"\"|$)",
    re.IGNORECASE | re.DOTALL,
)
SETS_STATUS = re.compile(r"(?:^|[\s,])(?:\w+\.)?status\s*=", re.IGNORECASE)
ORM_WRITES = [
    re.compile(r"update\(\s*Job\s*\)[^\n]*(?:\n[^\n]*){0,6}?\.values\([^)]*\bstatus\s*=", re.S),
    re.compile(r"\bJob\.status\s*:\s*"),  # .values({Job.status: ...})
    re.compile(r"\bjob\.status\s*=(?!=)"),
]


def status_writes(source: str) -> list[str]:
    found = [
        m.group(0)[:80].replace("\n", " ")
        for m in SQL_UPDATE.finditer(source)
        if SETS_STATUS.search(m.group("set"))
    ]
    for pattern in ORM_WRITES:
        found += [m.group(0)[:80] for m in pattern.finditer(source)]
    return found


def product_modules() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.py")
        if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts[:-1])
        and not p.relative_to(ROOT).parts[0].startswith(".")
    )


def test_no_module_but_the_owner_writes_job_status() -> None:
    offenders = {
        str(p.relative_to(ROOT)): writes
        for p in product_modules()
        if p != OWNER and (writes := status_writes(p.read_text()))
    }
    assert offenders == {}, f"jobs.status written outside mediaq/transitions.py: {offenders}"


def test_the_scan_sees_the_owners_own_writes() -> None:
    # admit, admit head, withdraw (x2), claim, complete, fail, refuse, cancel, retry,
    # cancel the rest of a pipeline
    assert len(status_writes(OWNER.read_text())) >= 11
    assert status_writes("conn.execute(text('update jobs j set held = false, status = :s'))")
    assert status_writes("\"UPDATE jobs SET progress = 1 WHERE status = 'running'\"") == []
    assert status_writes("session.execute(update(Job).values(status='failed'))")
    assert status_writes("job.status = 'cancelled'")
    assert not status_writes("if job.status == 'cancelled':")
