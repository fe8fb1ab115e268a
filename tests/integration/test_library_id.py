"""The library id on the real database and file system: created once, checked by every
process, refused with a message naming the setting when the root is another library."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.library import LIBRARY_ID_FILE, LibraryMismatch, check_library
from mediaq.migrate import alembic_config
from mediaq.settings import Settings


def _check(settings: Settings) -> str:
    with engine_for(settings.database_url).begin() as conn:
        return check_library(conn, settings)


def _roots(root: Path) -> dict[str, str]:
    return {
        "library_root": str(root),
        "public_root": str(root / "public"),
        "output_root": str(root / "output"),
        "thumbnail_root": str(root / "thumbnails"),
    }


def test_the_first_process_creates_the_id_and_the_next_ones_check_it(
    settings: Settings, tmp_path: Path
) -> None:
    first = _check(settings)
    root = Path(settings.library_root)
    assert (root / LIBRARY_ID_FILE).read_text().strip() == first
    assert _check(settings) == first  # a second host on the same storage

    with pytest.raises(LibraryMismatch, match=r"MEDIAQ_LIBRARY_ROOT=.*missing does not exist"):
        _check(dataclasses.replace(settings, **_roots(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    no_id = rf"MEDIAQ_LIBRARY_ROOT=.*empty .*no {LIBRARY_ID_FILE}"
    with pytest.raises(LibraryMismatch, match=no_id):
        _check(dataclasses.replace(settings, **_roots(tmp_path / "empty")))

    other = tmp_path / "other"
    other.mkdir()
    (other / LIBRARY_ID_FILE).write_text("another-library\n")
    with pytest.raises(LibraryMismatch, match=f"another-library.*{first}"):
        _check(dataclasses.replace(settings, **_roots(other)))


def test_a_library_kept_while_the_database_was_recreated_is_adopted(settings: Settings) -> None:
    root = Path(settings.library_root)
    root.mkdir(parents=True)
    (root / LIBRARY_ID_FILE).write_text("kept-library\n")
    assert _check(settings) == "kept-library"
    with engine_for(settings.database_url).connect() as conn:
        assert (
            conn.execute(
                text("SELECT value FROM fleet_settings WHERE name = 'library_id'")
            ).scalar_one()
            == "kept-library"
        )


def test_an_output_root_that_is_not_a_writable_directory_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    _check(settings)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(LibraryMismatch, match=r"MEDIAQ_OUTPUT_ROOT=.*a-file"):
        _check(dataclasses.replace(settings, output_root=str(blocked)))


def test_migration_0003_on_a_populated_database_and_back(database_url: str) -> None:
    from alembic import command

    config = alembic_config(database_url)
    command.downgrade(config, "0002")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO jobs (type, status) VALUES ('noop', 'failed')"))
    command.upgrade(config, "0003")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 1
        conn.execute(text("INSERT INTO fleet_settings (name, value) VALUES ('library_id', 'x')"))
    command.downgrade(config, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 1
        assert conn.execute(text("SELECT to_regclass('fleet_settings')")).scalar_one() is None
    command.upgrade(config, "head")
