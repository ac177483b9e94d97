"""Preview jobs (issue #10) in the queue: no daily quota, no cooldown, the short lane, and a
generate job that stops at a preview gives its seconds back. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from db.errors import AdmissionRefused
from db.types import JobKind, JobRequest, JobStatus, Output

ROLL = Output("pianoroll.png", "image/png", b"\x89PNG-fake")


def request(kind: JobKind = JobKind.GENERATE, duration_s: float = 40.0) -> JobRequest:
    return JobRequest(requester_id=1, prompt="p", duration_s=duration_s, kind=kind)


def test_previews_charge_no_quota_and_start_no_cooldown(make_queue):
    queue = make_queue(daily_quota_s=60, cooldown_s=30)
    for _ in range(3):  # 120 s of previews, back to back: neither quota nor cooldown object
        queue.enqueue(request(JobKind.PREVIEW))
    queue.enqueue(request())  # the first render: 40 of 60 s, and it starts the cooldown
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(request(duration_s=5))
    assert err.value.code == "cooldown"
    queue.enqueue(request(JobKind.PREVIEW))  # a preview during the cooldown is fine


def test_previews_still_count_towards_the_queue_cap(make_queue):
    queue = make_queue(max_queued_per_user=2)
    queue.enqueue(request(JobKind.PREVIEW))
    queue.enqueue(request(JobKind.PREVIEW))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(request(JobKind.PREVIEW))
    assert err.value.code == "user_queue_full"


def test_a_preview_takes_the_short_lane(make_queue):
    queue = make_queue(short_job_s=10)
    long_job = queue.enqueue(request(duration_s=40))
    preview = queue.enqueue(request(JobKind.PREVIEW, duration_s=40))
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == preview.id != long_job.id


def test_a_generate_job_that_stops_at_a_preview_gives_its_seconds_back(make_queue):
    queue = make_queue(daily_quota_s=60)
    job = queue.enqueue(request(duration_s=40))
    with pytest.raises(AdmissionRefused):
        queue.enqueue(request(duration_s=30))  # 40 + 30 > 60
    [claim] = queue.claim("w", ["arranger"])
    assert queue.become_preview(claim)
    assert queue.complete(claim, [ROLL], {"preview": True})
    done = queue.get(job.id)
    assert done.kind is JobKind.PREVIEW and done.status is JobStatus.SUCCEEDED
    queue.enqueue(request(duration_s=60))  # the 40 s came back: the whole quota is free
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(request(duration_s=1))
    assert err.value.code in ("daily_quota", "cooldown")


def test_become_preview_is_fenced(make_queue):
    queue = make_queue(daily_quota_s=60, lease_s=0.2)
    job = queue.enqueue(request(duration_s=40))
    [claim] = queue.claim("w", ["arranger"])
    queue.cancel(job.id, user_id=1)  # the lease is gone: nothing may change the job now
    assert not queue.become_preview(claim)
    assert queue.get(job.id).kind is JobKind.GENERATE
    # the cancel gave the 40 s back exactly once (a fenced become_preview gives nothing more)
    queue.enqueue(request(duration_s=60))
    with pytest.raises(AdmissionRefused):
        queue.enqueue(request(duration_s=1))


def test_a_failed_preview_gives_back_nothing_it_never_took(make_queue):
    queue = make_queue(daily_quota_s=60)
    queue.enqueue(request(duration_s=50))
    preview = queue.enqueue(request(JobKind.PREVIEW, duration_s=30))
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == preview.id
    assert queue.fail(claim, "no_melody", "No tune.", retry=False)
    with pytest.raises(AdmissionRefused) as err:  # still 50 s used: 50 + 20 > 60
        queue.enqueue(request(duration_s=20))
    assert err.value.code == "daily_quota"
    queue.enqueue(request(duration_s=10))


def test_the_eta_ignores_previews(make_queue):
    now = [1000.0]
    queue = make_queue(clock=lambda: now[0])

    def run(kind: JobKind, seconds: float) -> None:
        queue.enqueue(request(kind))
        [claim] = queue.claim("w", ["arranger"])
        now[0] += seconds
        assert queue.complete(claim, [], {})

    run(JobKind.GENERATE, 30.0)  # a render took 30 s
    run(JobKind.PREVIEW, 0.5)  # a preview only listened: no render's time
    waiting = queue.enqueue(JobRequest(requester_id=2, prompt="p", duration_s=40.0))
    position = queue.position(waiting.id)
    assert position is not None and position.ahead == 0
    assert position.eta_s == pytest.approx(30.0)  # the render's time alone, not (30 + 0.5) / 2


def test_a_preview_leaving_the_24_h_window_frees_nothing_it_never_took(make_queue):
    now = [1000.0]
    queue = make_queue(clock=lambda: now[0], daily_quota_s=60)
    queue.enqueue(request(JobKind.PREVIEW, duration_s=40))
    queue.enqueue(request(duration_s=20))
    now[0] += 86400 + 1  # both slide out of the window: the 20 s come back, nothing more
    queue.enqueue(request(duration_s=60))
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(request(duration_s=30))
    assert err.value.code == "daily_quota"
