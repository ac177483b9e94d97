"""SQLite page size with a real job's blobs: 1 KiB against 4 KiB pages, alternated.

The queue benchmark's no-op cycle (``queue_throughput.py``) stores 1 KiB, so smaller pages only
help it (fewer WAL bytes per rewritten index page). A real job carries its hum (~150 KB) in and
its outputs (~0.6 MB track, MIDI, piano roll) out, which then take 4x the overflow pages. This
runs that cycle in one process — enqueue with the hum, claim (reads the hum), complete with the
outputs, read the outputs back — for each page size on a fresh file, alternating ``--repeats``.

    .venv/bin/python benchmarks/sqlite_page_size.py [--seconds 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import tempfile
import time

from queue_throughput import LENIENT  # the sibling benchmark (its directory is on sys.path)

from db.queue import JobQueue
from db.settings import QueueSettings
from db.types import JobRequest, Output

HUM = os.urandom(150_000)
OUTPUTS = [
    Output("track.ogg", "audio/ogg", os.urandom(600_000)),
    Output("melody.mid", "audio/midi", os.urandom(2_000)),
    Output("pianoroll.png", "image/png", os.urandom(60_000)),
]


def cycles_per_second(page_size: int, seconds: float) -> float:
    path = f"{tempfile.mkdtemp()}/pages.db"
    # the page size is fixed when the file is made: make it here, humjam then opens it as it is
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA page_size={page_size}")
        conn.execute("PRAGMA journal_mode=WAL")
    url = f"sqlite:///{path}"
    settings = QueueSettings(_env_file=None, database_url=url, **LENIENT)  # type: ignore[call-arg]
    request = JobRequest(
        requester_id=1, prompt="x", duration_s=5.0, backend="noop", hum=HUM, hum_filename="h.ogg"
    )
    with JobQueue.connect(url, settings) as queue:

        def cycle() -> None:
            queue.enqueue(request)
            for claim in queue.claim("bench", ["noop"]):
                queue.complete(claim, OUTPUTS, {})
                queue.outputs(claim.job.id)

        for _ in range(20):
            cycle()
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            cycle()
            n += 1
        return n / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    rates: dict[int, list[float]] = {1024: [], 4096: []}
    for _ in range(a.repeats):
        for size, got in rates.items():
            got.append(cycles_per_second(size, a.seconds))
    print(f"\nreal-job cycle (150 KB hum, 0.66 MB outputs), {a.repeats} alternating repeats")
    print("| page size | cycles/s (min / median) |\n|---|---|")
    for size, got in rates.items():
        print(f"| {size} B | {min(got):,.0f} / {statistics.median(got):,.0f} |")


if __name__ == "__main__":
    main()
