"""Prometheus metrics of the bot and the optional ``/metrics`` + ``/health`` HTTP endpoint.

Metric objects live in the default registry (created once per process at import).
``/health`` answers 200 only when the gateway is ready and the queue answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

COMMANDS = Counter("humjam_bot_commands_total", "Application commands invoked", ["command"])
FAILURES = Counter("humjam_bot_failures_total", "Interactions answered with an error", ["code"])
ENQUEUED = Counter("humjam_bot_jobs_enqueued_total", "Jobs enqueued by the bot", ["kind"])
DELIVERIES = Counter("humjam_bot_deliveries_total", "Finished jobs posted", ["via", "status"])
ACK_SECONDS = Histogram(
    "humjam_bot_ack_seconds",
    "Interaction creation to acknowledgement",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3),
)
QUEUE_WAIT = Histogram(
    "humjam_bot_queue_wait_seconds",
    "Enqueue to start of rendering",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800),
)
RENDER_SECONDS = Histogram(
    "humjam_bot_render_seconds", "Rendering time", buckets=(1, 2, 5, 10, 20, 40, 80, 160, 320)
)
QUEUE_LENGTH = Gauge("humjam_bot_queue_length", "Jobs queued or running (last seen)")

HealthCheck = Callable[[], Awaitable[bool]]


async def start_server(host: str, port: int, healthy: HealthCheck) -> web.AppRunner:
    """Serve ``/metrics`` and ``/health``; the caller cleans the runner up."""

    async def metrics_handler(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_handler(request: web.Request) -> web.Response:
        try:
            ok = await healthy()
        except Exception:
            log.warning("health check failed", exc_info=True)
            ok = False
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/health", health_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics and health on %s:%s", host, port)
    return runner
