"""The library id: every process of a fleet must see the same media library.

The id is a random UUID kept in two places: a file at the library root
(``LIBRARY_ID_FILE``) and the ``fleet_settings`` row ``library_id``. The first process of a
fresh fleet (the API, a worker daemon, ``mediaq up``) creates both; every later one checks
that the file under its ``MEDIAQ_LIBRARY_ROOT`` carries the id the database knows, and that
each library root is readable and writable. A worker host that mounted the wrong storage, an
empty directory or a read-only share refuses to start and says which setting to fix.

``decide`` is the pure decision; ``check_library`` does the I/O around it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from mediaq.errors import ConfigError
from mediaq.settings import Settings, env_name

LIBRARY_ID_FILE = ".mediaq-library-id"
LIBRARY_ID_SETTING = "library_id"
ROOT_FIELDS = ("library_root", "public_root", "output_root", "thumbnail_root")


class LibraryMismatch(ConfigError):
    """This process does not see the library the fleet uses (or cannot write to it)."""


@dataclass(frozen=True)
class Decision:
    """What to do with the ids found: ``ok``, ``create``, ``adopt`` or ``refuse``."""

    action: str
    library_id: str | None = None
    reason: str = ""


def decide(db_id: str | None, file_id: str | None, root: str) -> Decision:
    """Compare the fleet's library id with the one found in the root (pure)."""
    var = env_name("library_root")
    if db_id is None and file_id is None:
        return Decision("create", str(uuid.uuid4()))
    if db_id is None:
        return Decision("adopt", file_id)
    if file_id is None:
        return Decision(
            "refuse",
            db_id,
            f"{var}={root} is not this fleet's media library: it has no {LIBRARY_ID_FILE} "
            f"file, and the fleet's library is {db_id}. Mount the same library storage the "
            f"API serves at {root} (every worker host needs it), or set {var} to where it is "
            f"mounted.",
        )
    if file_id != db_id:
        return Decision(
            "refuse",
            db_id,
            f"{var}={root} holds library {file_id}, but this fleet's library is {db_id}: "
            f"this host mounted another library. Mount the storage the API serves, or set "
            f"{var} to where it is mounted.",
        )
    return Decision("ok", db_id)


def read_library_id(root: Path) -> str | None:
    """The id in the root's id file, or None when there is none."""
    try:
        value = (root / LIBRARY_ID_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LibraryMismatch(
            f"{env_name('library_root')}={root}: cannot read {LIBRARY_ID_FILE}: {exc}"
        ) from None
    return value or None


def _write_library_id(root: Path, library_id: str) -> str:
    """Write the id file unless another process did first; return the id it holds."""
    try:
        fd = os.open(root / LIBRARY_ID_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return read_library_id(root) or library_id
    with os.fdopen(fd, "w") as out:
        out.write(library_id + "\n")
    return library_id


def fleet_library_id(conn: Connection) -> str | None:
    value = conn.execute(
        text("SELECT value FROM fleet_settings WHERE name = :n"), {"n": LIBRARY_ID_SETTING}
    ).scalar_one_or_none()
    return str(value) if value is not None else None


def _record_library_id(conn: Connection, library_id: str) -> str:
    """Record the id unless another process did first; return the fleet's id."""
    conn.execute(
        text(
            "INSERT INTO fleet_settings (name, value) VALUES (:n, :v) ON CONFLICT (name) DO NOTHING"
        ),
        {"n": LIBRARY_ID_SETTING, "v": library_id},
    )
    found = fleet_library_id(conn)
    assert found is not None
    return found


def check_roots(settings: Settings, create: bool = True) -> None:
    """Each library root exists (made if missing when ``create``), is a directory, and can
    be read and written."""
    for name in ROOT_FIELDS:
        root = Path(getattr(settings, name))
        var = env_name(name)
        if create:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryMismatch(f"{var}={root} cannot be created: {exc.strerror}") from None
        elif not root.exists():
            raise LibraryMismatch(f"{var}={root} does not exist")
        if not root.is_dir():
            raise LibraryMismatch(f"{var}={root} is not a directory")
        if not os.access(root, os.R_OK | os.X_OK):
            raise LibraryMismatch(f"{var}={root} is not readable by this user (uid {os.getuid()})")
        try:
            with tempfile.NamedTemporaryFile(dir=root, prefix=".mediaq-write-check-"):
                pass
        except OSError as exc:
            raise LibraryMismatch(
                f"{var}={root} is not writable by this user (uid {os.getuid()}): "
                f"{exc.strerror}; the workers write their results there"
            ) from None


def check_library(conn: Connection, settings: Settings) -> str:
    """Make sure this process sees the fleet's library; return its id or raise.

    ``conn`` should be in a transaction; the caller commits (the id row is written there
    when this is the first process of a fresh fleet).
    """
    root = Path(settings.library_root)
    db_id = fleet_library_id(conn)
    if db_id is not None and not root.is_dir():
        raise LibraryMismatch(
            f"{env_name('library_root')}={root} does not exist; this fleet's library is "
            f"{db_id}. Mount the library storage the API serves there, or set "
            f"{env_name('library_root')} to where it is mounted."
        )
    check_roots(settings)
    decision = decide(db_id, read_library_id(root), str(root))
    if decision.action == "refuse":
        raise LibraryMismatch(decision.reason)
    assert decision.library_id is not None
    if decision.action == "create":
        in_file = _write_library_id(root, decision.library_id)
        in_db = _record_library_id(conn, in_file)
        if in_db != in_file:
            raise LibraryMismatch(decide(in_db, in_file, str(root)).reason)
        return in_db
    if decision.action == "adopt":
        in_db = _record_library_id(conn, decision.library_id)
        if in_db != decision.library_id:
            raise LibraryMismatch(decide(in_db, decision.library_id, str(root)).reason)
        return in_db
    return decision.library_id
