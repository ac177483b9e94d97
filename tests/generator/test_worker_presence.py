"""A worker's heartbeat row (issue 14): written once its backend is loaded, refreshed while it
runs, dropped when it stops; the bot reads it to refuse backends nobody serves."""

from __future__ import annotations

import threading
import time

from tests.generator.test_worker import FakeBackend, make_worker


def test_worker_is_live_while_running_and_gone_after_stop(make_queue, clock):
    queue = make_queue(clock=clock, worker_ttl_s=30)
    worker = make_worker(queue, FakeBackend(), batch_size=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while queue.live_backends() != {"fake": 1} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.live_backends() == {"fake": 1}
        # the heartbeat loop renews the row: after the TTL passes it is still live
        clock.advance(31)
        deadline = time.monotonic() + 10
        while queue.live_backends() != {"fake": 1} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.live_backends() == {"fake": 1}
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert queue.live_backends() == {}
