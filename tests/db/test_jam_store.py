"""JamStore on a migrated database (SQLite, and PostgreSQL when it answers): sessions, parts,
limits, votes, ending — and that the migration builds exactly the jam models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from db.dialects import for_url
from db.jam import (
    JamClosed,
    JamLimitReached,
    JamLimits,
    JamNotFound,
    JamStore,
    NotJamHost,
    PartStatus,
    normalise_key,
)
from db.migrate import upgrade


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database: SQLite, and PostgreSQL when it answers (``tests/conftest.py``)."""
    eng = for_url(database_url).create_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine: Engine) -> JamStore:
    return JamStore(engine)


def _start(store: JamStore, **kw: object) -> int:
    args: dict[str, object] = dict(
        guild_id=1, channel_id=2, host_id=100, name="friday jam", style="lofi", key="dm",
        bpm=90, length_s=40,
    )  # fmt: skip
    args.update(kw)
    return store.start(**args).id  # type: ignore[arg-type]


def test_normalise_key() -> None:
    assert normalise_key("dm") == "D minor"
    assert normalise_key(" F# ") == "F# major"
    assert normalise_key("bb minor") == "Bb minor"
    with pytest.raises(ValueError, match="not a key"):
        normalise_key("Z")


def test_session_lifecycle(store: JamStore) -> None:
    sid = _start(store)
    other = _start(store, name="second")  # several sessions per guild
    store.set_thread(sid, 555)
    store.set_card(sid, 777)
    s = store.get(sid)
    assert (s.thread_id, s.card_message_id, s.key, s.status) == (555, 777, "D minor", "open")
    assert store.by_thread(555) == s and store.by_thread(556) is None
    assert [x.id for x in store.sessions(1)] == [sid, other]
    with pytest.raises(NotJamHost):
        store.end(sid, 101)
    ended = store.end(sid, 101, is_admin=True)
    assert ended.status == "ended" and ended.ended_at is not None
    assert store.end(sid, 100).status == "ended"  # idempotent
    assert [x.id for x in store.sessions(1)] == [other]
    assert len(store.sessions(1, open_only=False)) == 2
    with pytest.raises(JamClosed):
        store.add_part(sid, member_id=100, member_name="ana", role="melody")
    with pytest.raises(JamNotFound):
        store.get(99999)


def test_parts_notes_and_replayed_messages(store: JamStore) -> None:
    sid = _start(store)
    a = store.add_part(sid, member_id=100, member_name="ana", role="verse", source_message_id=9)
    again = store.add_part(sid, member_id=100, member_name="ana", role="verse", source_message_id=9)
    assert again.id == a.id and a.status is PartStatus.PENDING
    notes = [[0.0, 1.0, 62, 100], [1.0, 0.5, 65, 90]]
    store.set_part_notes(a.id, notes)
    store.set_part_message(a.id, 4242)
    p = store.part_by_message(4242)
    assert p is not None and p.notes == notes and p.status is PartStatus.READY
    b = store.add_part(sid, member_id=200, member_name="ben", role="bass line")
    store.fail_part(b.id)
    assert [(x.member_name, x.status) for x in store.parts(sid)] == [
        ("ana", PartStatus.READY),
        ("ben", PartStatus.FAILED),
    ]


def test_limits(store: JamStore) -> None:
    sid = _start(store, limits=JamLimits(max_parts=3, max_members=2, max_renders=1))
    store.add_part(sid, member_id=1, member_name="a", role="melody")
    store.add_part(sid, member_id=2, member_name="b", role="melody")
    with pytest.raises(JamLimitReached, match="2 members"):
        store.add_part(sid, member_id=3, member_name="c", role="melody")
    store.add_part(sid, member_id=1, member_name="a", role="chorus")
    with pytest.raises(JamLimitReached, match="3 parts"):
        store.add_part(sid, member_id=2, member_name="b", role="bridge")
    assert store.use_render(sid).renders == 1
    with pytest.raises(JamLimitReached) as err:
        store.use_render(sid)
    assert err.value.code == "jam_limit"


def test_votes_are_once_per_member_and_not_for_yourself(store: JamStore) -> None:
    sid = _start(store)
    p = store.add_part(sid, member_id=1, member_name="a", role="chorus")
    assert store.vote(p.id, 1) == 0  # own take
    assert store.vote(p.id, 2) == 1
    assert store.vote(p.id, 2) == 1  # twice = once
    assert store.vote(p.id, 3) == 2
    assert store.unvote(p.id, 2) == 1
    assert store.parts(sid)[0].votes == 1


def test_forget_member_deletes_takes_and_votes(store: JamStore) -> None:
    sid = _start(store, host_id=1)
    mine = store.add_part(sid, member_id=1, member_name="a", role="verse")
    theirs = store.add_part(sid, member_id=2, member_name="b", role="chorus")
    store.vote(mine.id, 2)
    store.vote(theirs.id, 1)
    assert store.forget_member(1) == 1
    assert [p.id for p in store.parts(sid)] == [theirs.id]
    assert store.part(theirs.id).votes == 0
    assert store.get(sid).host_id == 0
    assert store.end(sid, 3, is_admin=True).status == "ended"


def test_migration_matches_jam_models(engine: Engine) -> None:
    from db.models import jam_parts, jam_sessions, jam_votes

    insp = sa.inspect(engine)
    for table in (jam_sessions, jam_parts, jam_votes):
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}
        assert {i["name"] for i in insp.get_indexes(table.name)} >= {i.name for i in table.indexes}
