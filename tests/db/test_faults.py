"""Faults the queue must survive on both engines: unreadable rows, absurd requests, a dropped
connection at complete, the database replaced or read-only under a running process."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.errors import DatabaseUnavailable, InvalidRequest
from db.types import JobKind, JobRequest, JobStatus, Output

TRACK = Output("track.opus", "audio/ogg", b"OggS-fake-track")


def req(**fields) -> JobRequest:
    return JobRequest(**{"requester_id": 1, "prompt": "p", "duration_s": 5.0, **fields})


def corrupt(queue, job_id: int, how: str) -> None:
    """Write a row this version can't read, as a manual fix or an old version might."""
    sql = {
        "kind": "UPDATE jobs SET kind = 'mystery' WHERE id = :id",
        # SQLite stores any text; PostgreSQL only valid JSON, so there: JSON that isn't an object
        "params": (
            "UPDATE jobs SET params = 'not json {' WHERE id = :id"
            if queue.url.startswith("sqlite")
            else "UPDATE jobs SET params = '[1, 2]' WHERE id = :id"
        ),
        "status": "UPDATE jobs SET delivery_status = 'lost-in-space' WHERE id = :id",
    }[how]
    with queue._engine.begin() as conn:
        conn.execute(text(sql), {"id": job_id})


@pytest.mark.parametrize("how", ["params", "kind"])
def test_an_unreadable_row_is_failed_as_corrupt_and_the_next_job_runs(queue, how, caplog):
    poison = queue.enqueue(req())
    good = queue.enqueue(req(requester_id=2))
    corrupt(queue, poison.id, how)
    with caplog.at_level(logging.ERROR):
        claims = queue.claim("w", ["arranger"])
    assert [c.job.id for c in claims] == [good.id]  # never raised; the line moved on
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    with queue._engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, error_code, error_message FROM jobs WHERE id = :id"),
            {"id": poison.id},
        ).one()
    assert row.status == "failed" and row.error_code == "corrupt_job"
    assert "ask again" in row.error_message
    assert queue.claim("w", ["arranger"]) == []  # and it is not claimed again


@pytest.mark.parametrize("how", ["params", "kind", "status"])
def test_readers_skip_and_log_unreadable_rows(queue, how, caplog):
    cursor = queue.changed_since(None)[1]
    bad = queue.enqueue(req())
    ok = queue.enqueue(req())
    corrupt(queue, bad.id, how)
    with caplog.at_level(logging.ERROR):
        assert queue.get(bad.id) is None
        assert queue.get(ok.id) is not None
        changed, _ = queue.changed_since(cursor)
        assert [j.id for j in changed] == [ok.id]
        assert [j.id for j in queue.history(1)] == [ok.id]
        assert [j.id for j in queue.user_jobs(1)] == [ok.id]
    assert sum("unreadable" in r.getMessage() for r in caplog.records) >= 4


def test_rows_failed_as_corrupt_are_offered_for_delivery_of_the_failure(queue):
    """The requester of a damaged row is told it failed (blanked params), not left waiting."""
    bad = [queue.enqueue(req()) for _ in range(2)]
    corrupt(queue, bad[0].id, "params")
    corrupt(queue, bad[1].id, "kind")
    assert queue.claim("w", ["arranger"]) == []  # both failed as corrupt
    offered = {j.id: j for j in queue.pending_deliveries(limit=10)}
    assert set(offered) == {b.id for b in bad}
    for job in offered.values():
        assert job.status is JobStatus.FAILED and job.error_code == "corrupt_job"
        assert "ask again" in (job.error_message or "")
    assert offered[bad[0].id].params == {}  # unreadable JSON blanked
    assert offered[bad[1].id].kind is JobKind.GENERATE  # unknown kind read as a plain request
    assert queue.begin_delivery(bad[0].id)


def test_unreadable_finished_rows_do_not_stall_deliveries(queue, caplog):
    """A row damaged after it finished (not failed by a claim) stays unreadable: its delivery
    is given up so it can't clog the line."""
    bad = [queue.enqueue(req()) for _ in range(3)]
    for job in bad:
        [claim] = queue.claim("w", ["arranger"])
        assert queue.complete(claim, [TRACK], {})
        corrupt(queue, job.id, "params")
    good = queue.enqueue(req(requester_id=2))
    [claim] = queue.claim("w", ["arranger"])
    assert queue.complete(claim, [TRACK], {})
    offered: set[int] = set()
    with caplog.at_level(logging.ERROR):
        for _ in range(3):  # batches of two, oldest first: the bad rows come first
            offered |= {j.id for j in queue.pending_deliveries(limit=2)}
    assert offered == {good.id}
    assert any("giving up the delivery" in r.getMessage() for r in caplog.records)
    with queue._engine.connect() as conn:
        states = conn.execute(
            text("SELECT delivery_status FROM jobs WHERE id IN (:a, :b, :c)"),
            dict(zip("abc", (j.id for j in bad), strict=True)),
        ).scalars()
        assert set(states) == {"failed"}  # no longer offered to any deliverer
    assert queue.begin_delivery(good.id)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"prompt": "x" * 20_000_000}, "prompt_too_long"),
        ({"prompt": "lofi\x00beats"}, "bad_prompt"),
        ({"hum": b"\0" * (60 * 2**20)}, "hum_too_large"),
        ({"backend": "nonexistent"}, "unknown_backend"),
        ({"backend": "b" * 200}, "unknown_backend"),
        ({"seed": 2**70}, "bad_seed"),
        ({"seed": -1}, "bad_seed"),
        ({"requester_id": 2**70}, "bad_id"),
        ({"guild_id": -5}, "bad_id"),
        ({"params": {"style": {1, 2}}}, "bad_params"),
        ({"params": {"bpm": float("nan")}}, "bad_params"),
        ({"hum": b"x", "hum_filename": "a\x00.ogg"}, "bad_filename"),
        ({"kind": "mystery"}, "unknown_kind"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_absurd_requests_get_a_typed_refusal_and_store_nothing(queue, fields, code):
    with pytest.raises(InvalidRequest) as err:
        queue.enqueue(req(**fields))
    assert err.value.code == code and err.value.message
    assert queue.queue_length() == 0 and queue.history(1) == []


def test_the_api_takes_the_prompt_limit_the_bot_and_generator_use(queue):
    from db.types import MAX_PROMPT_CHARS

    with pytest.raises(InvalidRequest) as err:
        queue.enqueue(req(prompt="x" * (MAX_PROMPT_CHARS + 1)))
    assert err.value.code == "prompt_too_long"
    assert queue.enqueue(req(prompt="x" * MAX_PROMPT_CHARS)).prompt == "x" * MAX_PROMPT_CHARS


def test_a_value_the_database_refuses_is_a_refusal_not_an_outage(queue):
    """A dangling parent id trips the foreign key: the caller's mistake, said as such."""
    with pytest.raises(InvalidRequest) as err:
        queue.enqueue(req(parent_job_id=987654321))
    assert err.value.code == "invalid_request"
    assert not isinstance(err.value, DatabaseUnavailable)
    assert queue.queue_length() == 0
    queue.enqueue(req())  # and the queue works on
    assert queue.queue_length() == 1


def test_ids_out_of_range_are_simply_not_found(queue):
    assert queue.get(2**70) is None and queue.get(-1) is None


def _drop_connections(queue) -> None:
    """Cut the queue's own driver connections, as a network blip or a server restart would."""
    dialect = queue._dialect
    if dialect.name == "sqlite":
        dialect._writer._db.close()  # the next statement on it fails
        return
    pids = [
        c.connection.info.backend_pid
        for pool in (dialect._conns, dialect._relaxed)
        for c in pool._free  # cursors, each on its connection
    ]
    admin = create_engine(str(make_url(queue.url).difference_update_query(["options"])))
    with admin.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


def test_complete_retries_once_on_a_fresh_connection(queue):
    job = queue.enqueue(req())
    [claim] = queue.claim("w", ["arranger"])
    _drop_connections(queue)
    assert queue.complete(claim, [TRACK], {"key": "C major"})  # the finished render is kept
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED and queue.outputs(job.id) == [TRACK]
    # the retry can't store twice: a repeat of the same complete is fenced off
    assert not queue.complete(claim, [TRACK], {})
    assert queue.outputs(job.id) == [TRACK]


def _replace_database(queue, make_queue) -> None:
    if queue.url.startswith("sqlite"):
        path = Path(make_url(queue.url).database)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{path}{suffix}")
    else:
        schema = make_url(queue.url).query["options"].split("=", 1)[1]
        admin = create_engine(
            str(make_url(queue.url).difference_update_query(["options"])),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()


def test_a_database_replaced_under_a_running_queue_is_picked_up(make_queue):
    """A restore or a recreated file: the running process moves to the new database (on SQLite
    by noticing the file changed; on PostgreSQL after at most one failed call)."""
    old_queue = make_queue()
    old_queue.enqueue(req())
    assert len(old_queue.claim("w", ["arranger"])) == 1
    _replace_database(old_queue, make_queue)
    new_queue = make_queue()  # e.g. the bot restarting: creates and migrates the new database
    job = new_queue.enqueue(req(requester_id=7))
    if old_queue.url.startswith("sqlite"):
        # a read on a fresh connection first must not make the old queue adopt the new file
        # while its writer still holds the deleted one
        old_queue._engine.pool.dispose()
        assert old_queue.queue_length() == 1
    claims = []
    for _ in range(2):
        try:
            claims = old_queue.claim("w", ["arranger"])
            break
        except DatabaseUnavailable:
            assert not old_queue.url.startswith("sqlite"), "SQLite must notice before failing"
    assert [c.job.id for c in claims] == [job.id]


def _read_only_url(url: str) -> str:
    if url.startswith("sqlite"):
        return f"sqlite:///file:{make_url(url).database}?mode=ro&uri=true"
    u = make_url(url)
    options = u.query["options"] + " -cdefault_transaction_read_only=on"
    return u.update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_a_read_only_database_fails_fast_and_clearly(make_queue):
    from db.queue import JobQueue

    writable = make_queue()
    writable.enqueue(req())
    with JobQueue.connect(_read_only_url(writable.url), writable.settings) as ro:
        assert ro.queue_length() == 1  # reads work
        with pytest.raises(DatabaseUnavailable):
            ro.claim("w", ["arranger"])
        with pytest.raises(DatabaseUnavailable):
            ro.enqueue(req(requester_id=2))
    assert writable.queue_length() == 1


def test_kind_is_stored_and_read_back_for_every_known_kind(queue):
    for kind in JobKind:
        job = queue.enqueue(req(kind=kind, requester_id=100 + len(kind.value)))
        assert queue.get(job.id).kind is kind


def test_the_queue_knows_the_generator_backends():
    """One list of backend names: what the queue admits is what the generator can build."""
    from db.types import KNOWN_BACKENDS
    from generator.backends import BACKENDS

    assert tuple(BACKENDS) == KNOWN_BACKENDS


def test_a_complete_that_landed_before_its_connection_broke_counts_as_done(queue, monkeypatch):
    """The commit reached the database but its answer was lost: the retry is fenced off by the
    first attempt, and the queue recognises its own lease on the finished row."""
    job = queue.enqueue(req())
    [claim] = queue.claim("w", ["arranger"])
    real = queue._dialect.complete
    calls = []

    def lands_then_breaks(*args):
        calls.append(args)
        done = real(*args)
        if len(calls) == 1:
            raise DatabaseUnavailable()
        return done

    monkeypatch.setattr(queue._dialect, "complete", lands_then_breaks)
    assert queue.complete(claim, [TRACK], {})
    assert len(calls) == 2 and queue.outputs(job.id) == [TRACK]
    assert queue.get(job.id).status is JobStatus.SUCCEEDED
