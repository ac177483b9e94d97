"""JobQueue behaviour on SQLite and PostgreSQL: lifecycle, fencing, leases, cancel, limits, data."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from db.errors import AdmissionRefused, JobNotFound, NotAllowed
from db.types import DeliveryStatus, JobRequest, JobStatus, Output

TRACK = Output("track.opus", "audio/ogg", b"OggS-fake-track")
MIDI = Output("melody.mid", "audio/midi", b"MThd-fake")


def test_enqueue_claim_complete_round_trip(queue, job_factory):
    job = job_factory(hum=b"hum-bytes", hum_filename="hum.ogg", params={"style": "lofi"})
    assert job.status is JobStatus.QUEUED and job.has_hum and job.attempts == 0
    assert queue.hum(job.id) == (b"hum-bytes", "hum.ogg")

    [claim] = queue.claim("w1", ["arranger"])
    assert claim.job.id == job.id and claim.job.status is JobStatus.RUNNING
    assert claim.job.attempts == 1 and claim.hum == b"hum-bytes" and claim.hum_filename == "hum.ogg"
    assert queue.claim("w2", ["arranger"]) == []  # nothing else to take

    assert queue.report_progress(claim, 0.5, "render")
    mid = queue.get(job.id)
    assert mid.progress == pytest.approx(0.5) and mid.stage == "render"

    assert queue.complete(claim, [TRACK, MIDI], {"key": "D minor", "bpm": 90})
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.progress == 1.0
    assert done.result_meta == {"key": "D minor", "bpm": 90}
    assert done.finished_at is not None and done.started_at is not None
    assert queue.outputs(job.id) == [TRACK, MIDI]
    assert queue.position(job.id) is None


def test_claim_only_matching_backend(queue, job_factory):
    job = job_factory(backend="musicgen")
    assert queue.claim("w", ["arranger"]) == []
    [claim] = queue.claim("w", ["musicgen", "arranger"])
    assert claim.job.id == job.id


def test_second_complete_is_fenced_and_stores_nothing(queue, job_factory):
    job = job_factory()
    [claim] = queue.claim("w1", ["arranger"])
    assert queue.complete(claim, [TRACK], {})
    assert not queue.complete(claim, [MIDI], {})
    assert not queue.fail(claim, "boom", "no", retry=False)
    assert queue.outputs(job.id) == [TRACK]
    assert queue.get(job.id).status is JobStatus.SUCCEEDED


def test_lease_expiry_reclaims_and_fences_the_old_worker(make_queue, clock):
    queue = make_queue(lease_s=0.2, clock=clock)
    job = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    [old] = queue.claim("w1", ["arranger"])
    clock.advance(0.35)  # w1 stalls: no heartbeat
    [new] = queue.claim("w2", ["arranger"])
    assert new.job.id == job.id and new.job.attempts == 2
    assert new.lease_token != old.lease_token
    # the stale worker can do nothing any more
    assert not queue.heartbeat(old)
    assert not queue.report_progress(old, 0.9, "render")
    assert not queue.complete(old, [TRACK], {})
    assert queue.outputs(job.id) == []
    # the new holder finishes
    assert queue.heartbeat(new)
    assert queue.complete(new, [MIDI], {})
    assert queue.outputs(job.id) == [MIDI]


def test_heartbeat_keeps_the_lease(make_queue, clock):
    queue = make_queue(lease_s=0.3, clock=clock)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    [claim] = queue.claim("w1", ["arranger"])
    for _ in range(4):
        clock.advance(0.15)
        assert queue.heartbeat(claim)
        assert queue.claim("w2", ["arranger"]) == []
    assert queue.complete(claim, [], {})


def test_max_attempts_fails_with_clear_message(make_queue, clock):
    queue = make_queue(lease_s=0.1, max_attempts=2, clock=clock)
    job = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    for attempt in (1, 2):
        [claim] = queue.claim(f"w{attempt}", ["arranger"])
        assert claim.job.attempts == attempt
        clock.advance(0.2)
    assert queue.claim("w3", ["arranger"]) == []  # reaped to failed, not requeued
    failed = queue.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.error_code == "worker_lost"
    assert "2 times" in failed.error_message and "try again" in failed.error_message


def test_fail_with_retry_requeues_then_fails(make_queue):
    queue = make_queue(max_attempts=2)
    job = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    [c1] = queue.claim("w", ["arranger"])
    assert queue.fail(c1, "internal", "Something went wrong.", retry=True)
    assert queue.get(job.id).status is JobStatus.QUEUED
    [c2] = queue.claim("w", ["arranger"])
    assert queue.fail(c2, "internal", "Something went wrong.", retry=True)
    failed = queue.get(job.id)
    assert failed.status is JobStatus.FAILED
    assert (failed.error_code, failed.error_message) == ("internal", "Something went wrong.")


def test_retry_backoff_delays_the_next_claim(make_queue, clock):
    queue = make_queue(retry_backoff_s=0.3, clock=clock)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    [c1] = queue.claim("w", ["arranger"])
    queue.fail(c1, "internal", "x", retry=True)
    assert queue.claim("w", ["arranger"]) == []
    clock.advance(0.35)
    assert len(queue.claim("w", ["arranger"])) == 1


def test_fail_without_retry_stores_user_message(queue, job_factory):
    job = job_factory()
    [claim] = queue.claim("w", ["arranger"])
    assert queue.fail(claim, "hum_too_quiet", "We couldn't hear a melody.", retry=False)
    failed = queue.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.error_code == "hum_too_quiet"
    assert failed.error_message == "We couldn't hear a melody."
    assert [j.id for j in queue.pending_deliveries()] == [job.id]  # failures are delivered too


def test_cancel_queued_job(queue, job_factory):
    job = job_factory(requester_id=7)
    with pytest.raises(NotAllowed):
        queue.cancel(job.id, user_id=8)
    cancelled = queue.cancel(job.id, user_id=7)
    assert cancelled.status is JobStatus.CANCELLED
    assert queue.claim("w", ["arranger"]) == []
    with pytest.raises(NotAllowed):
        queue.cancel(job.id, user_id=7)
    with pytest.raises(JobNotFound):
        queue.cancel(999_999, user_id=7)
    # nothing to post, but its status line must say "cancelled": the bot delivers that
    assert [j.id for j in queue.pending_deliveries()] == [job.id]


def test_cancel_running_job_stops_at_next_checkpoint(queue, job_factory):
    job = job_factory(requester_id=7)
    [claim] = queue.claim("w", ["arranger"])
    assert queue.report_progress(claim, 0.2, "pitch")
    queue.cancel(job.id, user_id=99, is_admin=True)
    assert not queue.report_progress(claim, 0.4, "arrange")  # the worker's checkpoint says stop
    assert not queue.complete(claim, [TRACK], {})
    assert queue.get(job.id).status is JobStatus.CANCELLED
    assert queue.outputs(job.id) == []


def test_too_long_refused(make_queue):
    queue = make_queue(max_duration_s=60)
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=61))
    assert err.value.code == "too_long" and "60 s" in err.value.message


@pytest.mark.parametrize("seconds", [0.0, -3.0, float("nan")])
def test_nonsense_duration_refused(queue, seconds):
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=seconds))
    assert err.value.code == "bad_duration"
    assert queue.queue_length() == 0


def test_user_queue_cap(make_queue):
    queue = make_queue(max_queued_per_user=2)
    for _ in range(2):
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    assert err.value.code == "user_queue_full"
    assert "2 tracks" in err.value.message and "when one of them finishes" in err.value.message
    queue.enqueue(JobRequest(requester_id=2, prompt="p", duration_s=5))  # others unaffected
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [], {})
    queue.enqueue(JobRequest(requester_id=claim.job.requester_id, prompt="p", duration_s=5))


def test_cooldown_says_when(make_queue):
    queue = make_queue(cooldown_s=30)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    assert err.value.code == "cooldown"
    assert err.value.retry_after_s == pytest.approx(30, abs=2)
    assert "in 30 s" in err.value.message or "in 29 s" in err.value.message


def test_guild_queue_cap_and_override(make_queue):
    queue = make_queue(guild_queue_cap=2)
    for user in (1, 2):
        queue.enqueue(JobRequest(requester_id=user, prompt="p", duration_s=5, guild_id=9))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=3, prompt="p", duration_s=5, guild_id=9))
    assert err.value.code == "guild_queue_full" and "try again in" in err.value.message
    queue.enqueue(JobRequest(requester_id=3, prompt="p", duration_s=5, guild_id=10))
    gs = queue.update_guild_settings(9, queue_cap=3)
    assert gs.queue_cap == 3 and queue.guild_settings(9).queue_cap == 3
    queue.enqueue(JobRequest(requester_id=3, prompt="p", duration_s=5, guild_id=9))
    assert queue.queue_length(9) == 3 and queue.queue_length() == 4
    assert queue.update_guild_settings(9, queue_cap=None).queue_cap == 2


def test_daily_quota_says_when(make_queue):
    queue = make_queue(daily_quota_s=60)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=40))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=30))
    assert err.value.code == "daily_quota"
    assert err.value.retry_after_s == pytest.approx(86400, abs=60)
    assert "20 s left" in err.value.message and "try again in 24 h" in err.value.message
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=20))  # fits exactly


def test_fairness_round_robin(make_queue):
    """One user enqueues 50, then 5 users 1 each: all 5 start before the first user's 8th job."""
    queue = make_queue(max_running_per_user=1)
    flood = [queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5)) for _ in range(50)]
    others = [
        queue.enqueue(JobRequest(requester_id=u, prompt="p", duration_s=5)) for u in range(2, 7)
    ]
    order = []
    while claims := queue.claim("w", ["arranger"]):
        order.append(claims[0].job.id)
        queue.complete(claims[0], [], {})
    assert sorted(order) == sorted(j.id for j in flood + others)
    eighth = order.index(flood[7].id)
    assert all(order.index(o.id) < eighth for o in others)


def test_running_cap_per_user(make_queue):
    queue = make_queue(max_running_per_user=1)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    b = queue.enqueue(JobRequest(requester_id=2, prompt="p", duration_s=5))
    first = queue.claim("w", ["arranger"])
    second = queue.claim("w", ["arranger"])
    assert second[0].job.id == b.id or first[0].job.id == b.id
    assert queue.claim("w", ["arranger"]) == []  # user 1 already has one running


def test_batch_claim_takes_compatible_jobs(make_queue):
    queue = make_queue(batch_bucket_s=10)
    a = queue.enqueue(JobRequest(requester_id=1, prompt="a", duration_s=8, backend="musicgen"))
    queue.enqueue(JobRequest(requester_id=2, prompt="b", duration_s=28, backend="musicgen"))
    c = queue.enqueue(JobRequest(requester_id=3, prompt="c", duration_s=9, backend="musicgen"))
    queue.enqueue(JobRequest(requester_id=4, prompt="d", duration_s=8, backend="arranger"))
    batch = queue.claim("gpu", ["musicgen", "arranger"], limit=4)
    assert {cl.job.id for cl in batch} == {a.id, c.id}  # same backend, same duration bucket


def test_short_job_lane(make_queue):
    queue = make_queue(short_job_s=10)
    queue.enqueue(JobRequest(requester_id=1, prompt="long", duration_s=60))
    short = queue.enqueue(JobRequest(requester_id=2, prompt="short", duration_s=8))
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == short.id


def test_position_and_eta(queue, job_factory):
    first = job_factory(requester_id=1)
    [claim] = queue.claim("w", ["arranger"])
    time.sleep(0.05)
    queue.complete(claim, [], {})
    a = job_factory(requester_id=1)
    b = job_factory(requester_id=1)
    c = job_factory(requester_id=2)
    # user 1 was served already, user 2 never: round robin runs c, then a, then b
    predicted = {j.id: queue.position(j.id).ahead for j in (a, b, c)}
    assert predicted == {c.id: 0, a.id: 1, b.id: 2}
    eta_b, eta_c = queue.position(b.id).eta_s, queue.position(c.id).eta_s
    assert eta_b is not None and eta_c is not None and eta_b > eta_c > 0
    assert queue.position(first.id) is None
    order = []
    while claims := queue.claim("w", ["arranger"]):
        order.append(claims[0].job.id)
        queue.complete(claims[0], [], {})
    assert order == sorted(predicted, key=predicted.__getitem__)


def test_delivery_happens_once(queue, job_factory):
    job = job_factory()
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [TRACK], {})
    wins = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        wins.append(queue.begin_delivery(job.id))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert queue.pending_deliveries() == []  # held by the winner
    assert queue.mark_delivered(job.id, 555)
    assert not queue.mark_delivered(job.id, 556)
    done = queue.get(job.id)
    assert done.delivery_status is DeliveryStatus.DELIVERED and done.delivered_message_id == 555


def test_a_released_delivery_can_be_begun_again_at_once(queue, job_factory):
    job = job_factory()
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [TRACK], {})
    assert queue.begin_delivery(job.id)
    assert not queue.begin_delivery(job.id)  # held (for delivery_lease_s)
    queue.release_delivery(job.id)  # the deliverer shuts down mid-post
    assert [j.id for j in queue.pending_deliveries()] == [job.id]
    assert queue.begin_delivery(job.id)
    assert queue.mark_delivered(job.id, 555)
    queue.release_delivery(job.id)  # a release after delivery changes nothing
    assert queue.pending_deliveries() == []
    assert queue.get(job.id).delivery_status is DeliveryStatus.DELIVERED


def test_delivery_failure_retries_then_gives_up(make_queue):
    queue = make_queue(max_delivery_attempts=2)
    job = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [], {})
    assert queue.begin_delivery(job.id)
    queue.mark_delivery_failed(job.id, give_up=False)
    assert queue.get(job.id).delivery_status is DeliveryStatus.PENDING
    queue.mark_delivery_failed(job.id, give_up=False)
    failed = queue.get(job.id)
    assert failed.delivery_status is DeliveryStatus.FAILED and failed.delivery_attempts == 2


def test_changed_since_sees_each_change_once(queue, job_factory):
    _, cursor = queue.changed_since(None)
    job = job_factory()
    changes, cursor = queue.changed_since(cursor)
    assert [(j.id, j.status) for j in changes] == [(job.id, JobStatus.QUEUED)]
    again, cursor = queue.changed_since(cursor)
    assert again == []
    [claim] = queue.claim("w", ["arranger"])
    queue.report_progress(claim, 0.3, "render")
    changes, cursor = queue.changed_since(cursor)
    assert [(j.id, j.stage) for j in changes] == [(job.id, "render")]


def test_wait_for_changes_wakes_on_a_change(queue, job_factory):
    woke = threading.Event()

    def waiter() -> None:
        # the first call opens the listener and registers this thread as a waiter (Postgres),
        # returning at once so a worker would look once more; the second one sleeps
        queue.wait_for_changes(0.01)
        registered.set()
        queue.wait_for_changes(5.0)
        woke.set()

    registered = threading.Event()
    t = threading.Thread(target=waiter)
    start = time.monotonic()
    t.start()
    assert registered.wait(5)
    time.sleep(0.2)
    job_factory()
    t.join(5)
    assert woke.is_set() and time.monotonic() - start < 3.0


def test_history_and_user_jobs(queue, job_factory):
    a = job_factory(requester_id=1, guild_id=1)
    b = job_factory(requester_id=1, guild_id=2)
    job_factory(requester_id=2)
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [], {})
    assert [j.id for j in queue.history(1)] == [b.id, a.id]
    assert [j.id for j in queue.history(1, guild_id=2)] == [b.id]
    assert [j.id for j in queue.history(1, limit=1, offset=1)] == [a.id]
    active = {j.id for j in queue.user_jobs(1)}
    assert active == {a.id, b.id} - {claim.job.id}
    assert len(queue.user_jobs(1, active_only=False)) == 2


def test_purge_removes_old_blobs_but_keeps_queued_hums(queue, job_factory):
    done = job_factory(hum=b"old-hum")
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [TRACK], {})
    waiting = job_factory(hum=b"waiting-hum", requester_id=2)
    assert queue.purge(timedelta(days=1)) == 0  # nothing old enough
    time.sleep(0.05)
    assert queue.purge(timedelta(seconds=0.01)) == 2  # the finished job's hum and track
    assert queue.outputs(done.id) == [] and queue.hum(done.id) is None
    assert not queue.get(done.id).has_hum
    assert queue.hum(waiting.id) == (b"waiting-hum", None)


def test_forget_user_deletes_everything_they_own(queue, job_factory):
    mine = [job_factory(requester_id=5, hum=b"h") for _ in range(3)]
    other = job_factory(requester_id=6, parent_job_id=mine[0].id)
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.requester_id == 5
    assert queue.forget_user(5) == 3
    assert all(queue.get(j.id) is None for j in mine)
    assert all(queue.hum(j.id) is None for j in mine)
    assert not queue.complete(claim, [TRACK], {})  # the worker rendering it is fenced off
    assert queue.outputs(claim.job.id) == []
    kept = queue.get(other.id)
    assert kept is not None and kept.parent_job_id is None
    assert queue.history(5) == []


def test_forget_user_forgets_jam_takes_and_votes_in_the_same_transaction(
    queue, job_factory, monkeypatch
):
    from db.jam import JamStore
    from db.queue import retention

    jams = JamStore(queue._engine)
    sid = jams.start(guild_id=1, channel_id=2, host_id=5, name="jam", style="lofi", key="dm",
                     bpm=90, length_s=40).id  # fmt: skip
    mine = jams.add_part(sid, member_id=5, member_name="a", role="verse")
    theirs = jams.add_part(sid, member_id=6, member_name="b", role="chorus")
    jams.vote(theirs.id, 5)
    job = job_factory(requester_id=5)

    def then_fail(conn, user_id):  # the jam half lands, then the jobs half breaks
        real_forget(conn, user_id)
        raise RuntimeError("disk full")

    real_forget = retention.forget_member_rows
    monkeypatch.setattr(retention, "forget_member_rows", then_fail)
    with pytest.raises(RuntimeError):
        queue.forget_user(5)
    assert {p.id for p in jams.parts(sid)} == {mine.id, theirs.id}  # rolled back together
    assert jams.part(theirs.id).votes == 1 and queue.get(job.id) is not None

    monkeypatch.setattr(retention, "forget_member_rows", real_forget)
    assert queue.forget_user(5) == 1
    assert [p.id for p in jams.parts(sid)] == [theirs.id]
    assert jams.part(theirs.id).votes == 0 and jams.get(sid).host_id == 0
    assert queue.get(job.id) is None


async def test_async_queue_wraps_the_sync_one(queue):
    from db.queue import AsyncJobQueue

    aq = AsyncJobQueue(queue)
    job = await aq.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    assert (await aq.get(job.id)).status is JobStatus.QUEUED
    assert (await aq.position(job.id)).ahead == 0
    cancelled = await aq.cancel(job.id, 1)
    assert cancelled.status is JobStatus.CANCELLED


def test_running_cap_holds_under_concurrent_claims(make_queue):
    queue = make_queue(max_running_per_user=1)
    for _ in range(10):
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5))
    barrier = threading.Barrier(8)
    got: list[int] = []

    def claim() -> None:
        barrier.wait()
        got.extend(c.job.id for c in queue.claim("w", ["arranger"]))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 1
    assert len(queue.user_jobs(1)) == 10 and queue.queue_length() == 9


def test_changed_since_pages_through_a_burst(queue, job_factory):
    _, cursor = queue.changed_since(None)
    ids = {job_factory(requester_id=u).id for u in range(30)}
    seen: list[int] = []
    for _ in range(10):
        changes, cursor = queue.changed_since(cursor, limit=7)
        seen.extend(j.id for j in changes)
    assert sorted(seen) == sorted(ids)  # every change once, none stuck behind the limit


def _refused(queue, code: str, **fields) -> None:
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", **fields))
    assert err.value.code == code


def test_daily_quota_stops_counting_cancelled_failed_and_lost_jobs(make_queue, clock):
    """Only queued, running and succeeded jobs use the quota: a cancel, a final failure or a
    lost worker gives the seconds back; a retry does not."""
    queue = make_queue(daily_quota_s=60, max_attempts=2, lease_s=0.2, clock=clock)

    def enqueue(duration: float):
        return queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=duration))

    queue.cancel(enqueue(40).id, user_id=1)
    b = enqueue(50)  # 40 s came back with the cancel
    [claim] = queue.claim("w", ["arranger"])
    assert queue.fail(claim, "oops", "Oops.", retry=True)  # requeued: still counts
    _refused(queue, "daily_quota", duration_s=20)
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == b.id and queue.fail(claim, "oops", "Oops.", retry=False)
    c = enqueue(55)  # the failed job's 50 s came back
    assert [cl.job.id for cl in queue.claim("w", ["arranger"])] == [c.id]
    clock.advance(0.3)  # lease lost: reaped and claimed again (attempt 2)
    assert [cl.job.id for cl in queue.claim("w", ["arranger"])] == [c.id]
    clock.advance(0.3)  # lost again: fails for good
    assert queue.claim("w", ["arranger"]) == []
    assert queue.get(c.id).error_code == "worker_lost"
    enqueue(60)  # fits exactly: nothing failed or cancelled counts
    _refused(queue, "daily_quota", duration_s=1)


def test_daily_quota_window_slides(make_queue, clock):
    """Jobs older than 24 h stop counting; cancelling one of them then gives nothing back twice."""
    queue = make_queue(daily_quota_s=60, clock=clock)
    old = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=40))
    clock.advance(86400 + 1.0)
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=50))  # the 40 s slid out
    _refused(queue, "daily_quota", duration_s=20)
    queue.cancel(old.id, user_id=1)  # already out of the window
    queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=10))  # 50 + 10 = 60
    _refused(queue, "daily_quota", duration_s=1)


def test_a_refund_committed_during_an_enqueue_is_kept(make_queue, database_url):
    """Another process cancels a job of the user (the trigger refunds its seconds) while an
    enqueue of the same user is under way: the refund is neither lost nor counted twice.
    (The PostgreSQL enqueue used to write the ledger as an absolute value read before the
    refund committed, and so undid it.)"""
    from sqlalchemy import create_engine, text

    queue = make_queue(daily_quota_s=30)

    def enqueue(duration: float):
        return queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=duration))

    first = enqueue(10)
    enqueue(10)
    other = create_engine(database_url)
    queued = []
    try:
        with other.begin() as conn:  # the refund, held open while the enqueue starts
            conn.execute(
                text("UPDATE jobs SET status = 'cancelled' WHERE id = :id"), {"id": first.id}
            )
            racer = threading.Thread(target=lambda: queued.append(enqueue(10)))
            racer.start()
            racer.join(0.5)
        racer.join(30)
    finally:
        other.dispose()
    assert len(queued) == 1
    enqueue(10)  # 10 + 10 + 10: fits only if the cancelled job's 10 s came back, once
    _refused(queue, "daily_quota", duration_s=1)


def test_guild_config_settings(queue, job_factory):
    gs = queue.update_guild_settings(
        7, allowed_channel_ids=[30, 10, 30], default_backend="musicgen"
    )
    assert gs.allowed_channel_ids == (10, 30) and gs.default_backend == "musicgen"
    assert queue.guild_settings(7) == gs
    assert queue.guild_settings(8).allowed_channel_ids == ()  # other guilds: every channel
    assert queue.guild_settings(8).default_backend is None
    job_factory(guild_id=7)  # admission reads the same row: still admits
    # limits and config are independent columns
    gs = queue.update_guild_settings(7, queue_cap=3)
    assert gs.queue_cap == 3 and gs.allowed_channel_ids == (10, 30)
    gs = queue.update_guild_settings(7, allowed_channel_ids=[], default_backend=None)
    assert gs.allowed_channel_ids == () and gs.default_backend is None and gs.queue_cap == 3
    for bad in (
        {"allowed_channel_ids": "123"},
        {"allowed_channel_ids": [True]},
        {"allowed_channel_ids": [-5]},
        {"default_backend": "Not A Backend!"},
        {"default_backend": ""},
        {"queue_cap": 0},
        {"queue_cap": 2.5},
        {"daily_quota_s": float("nan")},
        {"colour": "red"},
    ):
        with pytest.raises(ValueError):
            queue.update_guild_settings(7, **bad)
    assert queue.guild_settings(7) == gs  # nothing half-applied


def test_guild_jam_limits_set_clear_and_validate(queue, job_factory):
    fresh = queue.guild_settings(5)
    assert (fresh.jam_max_parts, fresh.jam_max_members, fresh.jam_max_renders) == (None,) * 3
    gs = queue.update_guild_settings(5, jam_max_parts=1, jam_max_members=3, jam_max_renders=500)
    assert (gs.jam_max_parts, gs.jam_max_members, gs.jam_max_renders) == (1, 3, 500)
    assert queue.guild_settings(5) == gs and queue.guild_settings(6).jam_max_parts is None
    job_factory(guild_id=5)  # admission reads the whole guild row (SQLite: the raw-SQL path)
    gs = queue.update_guild_settings(5, jam_max_parts=None, queue_cap=4)  # None: bot default
    assert gs.jam_max_parts is None and gs.jam_max_members == 3 and gs.queue_cap == 4
    for bad in (0, -1, 501, 2.0, True, "3"):
        with pytest.raises(ValueError, match="jam_max_renders"):
            queue.update_guild_settings(5, jam_max_renders=bad)
    assert queue.guild_settings(5) == gs  # nothing half-applied
