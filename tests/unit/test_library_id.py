"""The library id decision: every combination of what the database and the root hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaq.library import LIBRARY_ID_FILE, decide

ids = st.one_of(st.none(), st.sampled_from(["lib-a", "lib-b"]))


@given(db_id=ids, file_id=ids)
def test_a_root_is_accepted_exactly_when_it_holds_the_fleets_id(
    db_id: str | None, file_id: str | None
) -> None:
    d = decide(db_id, file_id, "/srv/library")
    if db_id is None:
        assert d.action == ("create" if file_id is None else "adopt")
        assert d.library_id and (file_id is None or d.library_id == file_id)
    elif file_id == db_id:
        assert (d.action, d.library_id) == ("ok", db_id)
    else:
        assert d.action == "refuse"
        # the refusal names the setting, the path, the fleet's id and what to do
        assert "MEDIAQ_LIBRARY_ROOT=/srv/library" in d.reason
        assert db_id in d.reason and "Mount" in d.reason
        if file_id is None:
            assert LIBRARY_ID_FILE in d.reason
        else:
            assert file_id in d.reason


def test_a_fresh_fleet_gets_a_new_random_id_each_time() -> None:
    a, b = decide(None, None, "/x"), decide(None, None, "/x")
    assert a.library_id != b.library_id
