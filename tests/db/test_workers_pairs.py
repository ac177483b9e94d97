"""Live workers, side-by-side pairs and pending continues (issue 14) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from db.errors import AdmissionRefused
from db.queue.pairs import PAIR, PAIR_OF, pair_lead_id
from db.types import DeliveryStatus, JobRequest, JobStatus, Output

TRACK = Output("track.opus", "audio/ogg", b"OggS-fake")


def test_live_backends_follow_heartbeats_and_expire(make_queue, clock):
    queue = make_queue(clock=clock, worker_ttl_s=30)
    assert queue.live_backends() == {}
    queue.worker_alive("a1", "arranger", 1)
    queue.worker_alive("m1", "musicgen", 4)
    queue.worker_alive("a2", "arranger", 2)
    assert queue.live_backends() == {"arranger": 3, "musicgen": 4}
    clock.advance(20)
    queue.worker_alive("a1", "arranger", 1)  # only a1 keeps beating
    clock.advance(15)
    assert queue.live_backends() == {"arranger": 1}
    queue.worker_gone("a1")  # a clean stop
    assert queue.live_backends() == {}


def test_long_gone_workers_rows_are_dropped(make_queue, clock):
    queue = make_queue(clock=clock, worker_ttl_s=10)
    queue.worker_alive("old", "arranger")
    clock.advance(1000)
    queue.worker_alive("new", "arranger")
    queue.worker_alive("old", "arranger")  # an old id coming back gets a fresh row
    assert queue.live_backends() == {"arranger": 2}


def test_eta_divides_the_queue_by_the_live_lanes(make_queue, clock):
    queue = make_queue(clock=clock, max_queued_per_user=20, max_running_per_user=10)
    # history: one finished job that took 10 s
    first = queue.enqueue(JobRequest(requester_id=9, prompt="p", duration_s=5))
    [c] = queue.claim("w", ["arranger"])
    clock.advance(10)
    queue.complete(c, [TRACK], {})
    jobs = [queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5)) for _ in range(4)]
    assert first.id < jobs[0].id
    last = jobs[-1]
    slow = queue.position(last.id)
    assert slow is not None and slow.ahead == 3 and slow.eta_s == pytest.approx(10 * (3 + 1))
    queue.worker_alive("a", "arranger", 1)
    queue.worker_alive("b", "arranger", 2)
    fast = queue.position(last.id)
    assert fast is not None and fast.eta_s == pytest.approx(10 * (3 / 3 + 1))
    queue.worker_alive("m", "musicgen", 8)  # other backends' workers don't help
    assert queue.position(last.id).eta_s == pytest.approx(fast.eta_s)


def _pair(queue, **kw):
    lead = queue.enqueue(
        JobRequest(requester_id=1, prompt="p", duration_s=10, params={PAIR: "lead"}, **kw)
    )
    partner = queue.enqueue(
        JobRequest(
            requester_id=1, prompt="p", duration_s=10, backend="musicgen",
            params={PAIR_OF: lead.id}, parent_job_id=lead.id, **kw,
        )
    )  # fmt: skip
    return lead, partner


def test_pair_is_found_from_either_half(queue):
    lead, partner = _pair(queue)
    assert pair_lead_id(lead) == lead.id == pair_lead_id(partner)
    for half in (lead, partner):
        found = queue.pair(half)
        assert found is not None
        assert (found[0].id, found[1].id if found[1] else None) == (lead.id, partner.id)
    solo = queue.enqueue(JobRequest(requester_id=2, prompt="p", duration_s=5))
    assert pair_lead_id(solo) is None and queue.pair(solo) is None


def test_each_half_is_claimed_by_its_own_backend(queue):
    lead, partner = _pair(queue)
    [a] = queue.claim("wa", ["arranger"])
    [m] = queue.claim("wm", ["musicgen"])
    assert (a.job.id, m.job.id) == (lead.id, partner.id)


def test_partner_skips_the_cooldown_but_not_the_quota(make_queue):
    queue = make_queue(cooldown_s=60, daily_quota_s=15)
    lead = queue.enqueue(
        JobRequest(requester_id=1, prompt="p", duration_s=10, params={PAIR: "lead"})
    )
    with pytest.raises(AdmissionRefused) as refused:
        queue.enqueue(
            JobRequest(
                requester_id=1, prompt="p", duration_s=10, backend="musicgen",
                params={PAIR_OF: lead.id}, parent_job_id=lead.id,
            )
        )  # fmt: skip
    assert refused.value.code == "daily_quota"  # not "cooldown": the pair is one request
    with pytest.raises(AdmissionRefused) as again:
        queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=1))
    assert again.value.code == "cooldown"


def test_pair_delivered_once_through_the_lead(queue):
    lead, partner = _pair(queue)
    for backend in ("arranger", "musicgen"):
        [c] = queue.claim("w", [backend])
        queue.complete(c, [TRACK], {})
    assert queue.begin_delivery(lead.id)
    assert not queue.begin_delivery(lead.id)  # a second deliverer loses
    assert queue.mark_delivered(lead.id, 555) and queue.mark_delivered(partner.id, 555)
    for job_id in (lead.id, partner.id):
        job = queue.get(job_id)
        assert job.delivery_status is DeliveryStatus.DELIVERED
        assert job.delivered_message_id == 555 and job.status is JobStatus.SUCCEEDED


def test_pending_continue_survives_reconnect_and_expires(make_queue, clock):
    queue = make_queue(clock=clock)
    job = queue.enqueue(JobRequest(requester_id=7, prompt="p", duration_s=5))
    other = queue.enqueue(JobRequest(requester_id=7, prompt="q", duration_s=5))
    assert queue.pending_continue(7, 600) is None
    queue.set_pending_continue(7, job.id)
    queue.set_pending_continue(7, other.id)  # the latest choice wins
    reopened = make_queue(clock=clock)
    assert reopened.pending_continue(7, 600) == other.id
    assert reopened.pending_continue(8, 600) is None
    clock.advance(601)
    assert reopened.pending_continue(7, 600) is None
    queue.clear_pending_continue(7)
    clock.now -= 601
    assert queue.pending_continue(7, 600) is None


def test_forget_user_drops_their_pending_continue(queue):
    job = queue.enqueue(JobRequest(requester_id=7, prompt="p", duration_s=5))
    queue.set_pending_continue(7, job.id)
    queue.forget_user(7)
    assert queue.pending_continue(7, 600) is None
