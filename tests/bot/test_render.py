"""Pure builders: embeds, progress, file names and prompt cleaning, without Discord."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.render import (
    clean_prompt,
    filename,
    format_seconds,
    info_embed,
    key_tempo,
    progress_bar,
    result_embed,
    status_line,
)
from db.types import DeliveryStatus, Job, JobKind, JobStatus, QueuePosition

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_job(**changes: object) -> Job:
    job = Job(
        id=42,
        kind=JobKind.GENERATE,
        status=JobStatus.SUCCEEDED,
        requester_id=1,
        guild_id=2,
        channel_id=3,
        prompt="lofi hip hop, rhodes",
        params={"style": "lofi"},
        backend="arranger",
        seed=1234,
        duration_s=30.0,
        parent_job_id=None,
        attempts=1,
        progress=1.0,
        stage=None,
        error_code=None,
        error_message=None,
        created_at=T0,
        started_at=T0 + timedelta(seconds=5),
        finished_at=T0 + timedelta(seconds=17),
        delivery_status=DeliveryStatus.PENDING,
        delivery_attempts=0,
        delivered_message_id=None,
        interaction_token=None,
        application_id=None,
        status_message_id=None,
        has_hum=True,
        result_meta={"key": "D minor", "bpm": 92.4, "timings": {"render_s": 11.5}},
    )
    return replace(job, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    ["@everyone now", "@here", "hi <@123456789> and <@!42>", "role <@&7>", "chan <#99>"],
)
def test_clean_prompt_defuses_every_mention(raw: str) -> None:
    cleaned = clean_prompt(raw)
    for live in ("@everyone", "@here", "<@1", "<@!", "<@&", "<#"):
        assert live not in cleaned
    assert cleaned.replace("\u200b", "") == " ".join(raw.split())


def test_clean_prompt_strips_controls_and_whitespace() -> None:
    assert clean_prompt("  lofi\x00\x07\n\tbeats  ") == "lofi beats"


@pytest.mark.parametrize("fraction", [-1.0, 0.0, 0.33, 0.5, 1.0, 7.0, float("nan")])
def test_progress_bar_is_fixed_width_and_clamped(fraction: float) -> None:
    bar = progress_bar(fraction, width=10)
    cells, percent = bar.split(" ")
    assert len(cells) == 10
    assert 0 <= int(percent.rstrip("%")) <= 100


def test_status_lines_follow_the_job_state() -> None:
    queued = make_job(status=JobStatus.QUEUED)
    assert "3 ahead" in status_line(queued, QueuePosition(ahead=3, eta_s=95))
    assert "1m 35s" in status_line(queued, QueuePosition(ahead=3, eta_s=95))
    running = make_job(status=JobStatus.RUNNING, progress=0.5, stage="render")
    assert "50%" in status_line(running) and "render" in status_line(running)
    failed = make_job(status=JobStatus.FAILED, error_message="That clip is silent.")
    assert "That clip is silent." in status_line(failed)


def test_result_embed_has_every_field() -> None:
    embed = result_embed(make_job())
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Style"] == "lofi"
    assert fields["Key / tempo"] == "D minor · 92 BPM"
    assert fields["Seed"] == "1234"
    assert fields["Duration"] == "30s"
    assert fields["Backend"] == "arranger"
    assert fields["Render time"] == "12s"  # 11.5 s rounds half to even
    assert "lofi hip hop" in (embed.title or "")


def test_info_embed_and_long_prompt_truncation() -> None:
    job = make_job(prompt="x" * 5000)
    embed = info_embed(job)
    assert len(embed.description or "") <= 1024
    assert len(result_embed(job).title or "") <= 256


def test_filename_is_safe_ascii_with_job_id() -> None:
    name = filename(make_job(prompt="Ünïcode / ../../etc passwd 🎵"), "opus")
    assert name.startswith("humjam-42-") and name.endswith(".opus")
    assert "/" not in name and ".." not in name and name.isascii()


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5s"), (65, "1m 05s"), (3725, "1h 02m"), (None, "unknown")]
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_key_tempo_names_the_metre_and_a_tempo_octave_apart_from_the_hums() -> None:
    """The track's bpm may count the hum's beat at another octave (a style's tempo range); the
    embed says so, since the piano roll shows the hum's own reading."""
    half = make_job(result_meta={"key": "F major", "bpm": 63.2, "hum_bpm": 126.5, "meter": "6/8"})
    assert key_tempo(half) == "F major · 63 BPM · 6/8 (half-time of the hum's 126 bpm)"
    double = make_job(result_meta={"key": "A minor", "bpm": 180.0, "hum_bpm": 90.0})
    assert key_tempo(double).endswith("(double-time of the hum's 90 bpm)")
    same = make_job(result_meta={"key": "A minor", "bpm": 96.0, "hum_bpm": 96.0, "meter": "3/4"})
    assert key_tempo(same) == "A minor · 96 BPM · 3/4"
    odd = make_job(result_meta={"key": "A minor", "bpm": 120.0, "hum_bpm": 80.0})
    assert key_tempo(odd) == "A minor · 120 BPM"  # 3:2 is not an octave: nothing claimed
