"""``humjam db upgrade|purge`` against both engines."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from db import commands, migrate
from db.types import JobRequest, Output


def test_upgrade_then_purge(database_url, make_queue, capsys, monkeypatch):
    assert commands.main(argparse.Namespace(action="upgrade", database_url=database_url)) == 0
    assert f"revision {migrate.head_revision()}" in capsys.readouterr().out

    queue = make_queue()
    job = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5, hum=b"h"))
    [claim] = queue.claim("w", ["arranger"])
    queue.complete(claim, [Output("track.opus", "audio/ogg", b"x")], {})
    # a retention of ~0.09 s, then wait it out
    monkeypatch.setenv("HUMJAM_RETENTION_DAYS", "0.000001")
    time.sleep(0.15)
    assert commands.main(argparse.Namespace(action="purge", database_url=database_url)) == 0
    assert "purged 2 stored files" in capsys.readouterr().out
    assert queue.outputs(job.id) == [] and queue.hum(job.id) is None
    assert queue.purge(timedelta(0)) == 0


def test_unreachable_database_is_a_clean_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    assert commands.main(argparse.Namespace(action="upgrade", database_url=url)) == 1
