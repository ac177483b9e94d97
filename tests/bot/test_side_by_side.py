"""Side-by-side pairs in the bot (issue 14, point 2) against a real queue on SQLite and
PostgreSQL: a pair is queued whole or not at all, posted once, and a crash between the two
delivery marks is repaired without a second post."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.errors import UserFacingError
from bot.side_by_side import deliver_pair, enqueue_pair, require_live
from db.aio import AsyncProxy
from db.errors import AdmissionRefused
from db.types import DeliveryStatus, JobRequest, JobStatus, Output

TRACK = Output("track.opus", "audio/ogg", b"OggS-not-really")


class _Queue(AsyncProxy[Any]):
    """The bot's async view of a test's ``JobQueue``."""


class _Delivery:
    """The parts of the delivery service ``deliver_pair`` uses; records posts instead of
    sending."""

    def __init__(self, queue: Any) -> None:
        self.bot = SimpleNamespace(queue=_Queue(queue))
        self.posts: list[dict[str, Any]] = []

    def _upload_limit(self, job: Any) -> int:
        return 10 * 1024 * 1024

    async def show(self, job: Any, text: str, *, final: bool = False) -> None:
        pass

    async def post(self, job: Any, **kwargs: Any) -> int:
        self.posts.append({"job": job, **kwargs})
        return 4242


def _request(**kw: Any) -> JobRequest:
    return JobRequest(requester_id=1, prompt="lofi", duration_s=10.0, **kw)


async def test_a_refused_partner_cancels_and_refunds_the_lead(make_queue: Any) -> None:
    queue = make_queue(daily_quota_s=15.0)
    bot = SimpleNamespace(queue=_Queue(queue))
    with pytest.raises(AdmissionRefused) as refused:
        await enqueue_pair(bot, _request())  # type: ignore[arg-type]
    assert refused.value.code == "daily_quota"
    (lead,) = queue.user_jobs(1, active_only=False)
    assert lead.status is JobStatus.CANCELLED and lead.backend == "arranger"
    queue.enqueue(_request())  # the lead's 10 s were given back: 10 s still fit in 15


async def test_pair_waits_for_both_halves_then_posts_once(queue: Any) -> None:
    bot = SimpleNamespace(queue=_Queue(queue))
    lead = await enqueue_pair(bot, _request())  # type: ignore[arg-type]
    delivery = _Delivery(queue)
    [a] = queue.claim("wa", ["arranger"])
    queue.complete(a, [TRACK], {"style": "lofi", "key": "C major", "bpm": 90})
    for job in queue.pending_deliveries():
        assert await deliver_pair(delivery, job)  # type: ignore[arg-type]
    assert delivery.posts == []  # MusicGen's half is still queued
    [m] = queue.claim("wm", ["musicgen"])
    queue.fail(m, "model_error", "The model broke.", retry=False)
    for job in queue.pending_deliveries():
        assert await deliver_pair(delivery, job)  # type: ignore[arg-type]
    (post,) = delivery.posts  # one post for both, however many rounds see them
    fields = {f.name: f.value for f in post["embed"].fields}
    assert "The model broke." in fields["MusicGen"] and "C major" in fields["Arranger"]
    assert [f.filename.rsplit("-", 1)[1] for f in post["files"]] == ["arranger.opus"]
    for job_id in (lead.id, m.job.id):
        done = queue.get(job_id)
        assert done.delivery_status is DeliveryStatus.DELIVERED
        assert done.delivered_message_id == 4242
    assert queue.pending_deliveries() == []


async def test_a_crash_between_the_marks_is_repaired_without_posting(queue: Any) -> None:
    bot = SimpleNamespace(queue=_Queue(queue))
    lead = await enqueue_pair(bot, _request())  # type: ignore[arg-type]
    for backend in ("arranger", "musicgen"):
        [c] = queue.claim("w", [backend])
        queue.complete(c, [TRACK], {})
    assert queue.begin_delivery(lead.id) and queue.mark_delivered(lead.id, 777)  # then a crash
    (partner,) = queue.pending_deliveries()
    delivery = _Delivery(queue)
    assert await deliver_pair(delivery, partner)  # type: ignore[arg-type]
    assert delivery.posts == []
    assert queue.get(partner.id).delivered_message_id == 777


async def test_one_cancelled_half_lets_the_other_post_alone(queue: Any) -> None:
    bot = SimpleNamespace(queue=_Queue(queue))
    lead = await enqueue_pair(bot, _request())  # type: ignore[arg-type]
    queue.cancel(lead.id, 1)
    [m] = queue.claim("wm", ["musicgen"])
    queue.complete(m, [TRACK], {})
    # the cancelled lead is delivered too (its status line ends "cancelled"): both alone
    pending = {job.id: job for job in queue.pending_deliveries()}
    assert set(pending) == {lead.id, m.job.id}
    for job in pending.values():
        assert not await deliver_pair(_Delivery(queue), job)  # type: ignore[arg-type]


async def test_require_live_names_the_missing_engine(queue: Any) -> None:
    settings = SimpleNamespace(require_live_worker=True, backends=("arranger", "musicgen"))
    bot: Any = SimpleNamespace(queue=_Queue(queue), settings=settings)
    queue.worker_alive("w1", "musicgen")
    await require_live(bot, "musicgen")
    with pytest.raises(UserFacingError) as refused:
        await require_live(bot, "both")
    assert refused.value.code == "no_worker"
    assert "Arranger" in refused.value.message and "backend: musicgen" in refused.value.message
    settings.require_live_worker = False
    await require_live(bot, "arranger")  # the check can be turned off
