"""Hum intake rules: host allow-list, declared type/size/duration, duration parsing, sizing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import audio
from bot.delivery import fit_audio, split_outputs
from bot.errors import BadAttachment
from bot.intake import check_declared, check_host, probe
from bot.settings import BotSettings
from bot.transformers import parse_duration
from db.types import Output
from tests.generator.hum_synth import RATE, sing


@pytest.fixture
def settings() -> BotSettings:
    return BotSettings(_env_file=None, discord_token="t")  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.discordapp.com/attachments/1/2/hum.ogg",
        "https://media.discordapp.net/attachments/1/2/hum.ogg?ex=1",
    ],
)
def test_cdn_hosts_are_allowed(url: str, settings: BotSettings) -> None:
    check_host(url, settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.discordapp.com/attachments/1/2/hum.ogg",  # not https
        "https://cdn.discordapp.com.evil.example/hum.ogg",
        "https://evil.example/cdn.discordapp.com/hum.ogg",
        "https://user:pw@cdn.discordapp.com/hum.ogg",
        "file:///etc/passwd",
        "https://169.254.169.254/latest/meta-data",
    ],
)
def test_other_hosts_are_refused(url: str, settings: BotSettings) -> None:
    with pytest.raises(BadAttachment) as err:
        check_host(url, settings)
    assert err.value.code == "bad_host"


def attachment(**kw: object) -> SimpleNamespace:
    base = {"filename": "hum.ogg", "content_type": "audio/ogg", "size": 1000, "duration": None}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"content_type": "image/png", "filename": "a.png"}, "not_audio"),
        ({"content_type": None, "filename": "a.exe"}, "not_audio"),
        ({"size": 26 * 1024 * 1024}, "too_big"),
        ({"duration": 3600.0}, "too_long"),
    ],
)
def test_declared_facts_refuse_early(
    kw: dict[str, object], code: str, settings: BotSettings
) -> None:
    with pytest.raises(BadAttachment) as err:
        check_declared(attachment(**kw), settings)  # type: ignore[arg-type]
    assert err.value.code == code


def test_declared_audio_passes(settings: BotSettings) -> None:
    check_declared(attachment(content_type="video/webm", filename="memo.webm"), settings)  # type: ignore[arg-type]
    check_declared(attachment(content_type=None, filename="hum.m4a"), settings)  # type: ignore[arg-type]


def test_probe_refuses_silence_and_a_plain_tone_and_accepts_a_tune(settings: BotSettings) -> None:
    rate = 16000
    with pytest.raises(BadAttachment) as err:
        probe(audio.encode(np.zeros(rate * 2, dtype=np.float32), rate, "wav"), "q.wav", settings)
    assert err.value.code == "silent"
    t = np.arange(rate * 2) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    with pytest.raises(BadAttachment) as err:
        probe(audio.encode(tone, rate, "opus"), "t.ogg", settings)
    assert err.value.code == "no_melody"  # one held pitch is not a tune
    tune = sing([60, 62, 64, 65, 67, 65, 64, 62], [1] * 8, 100.0, seed=3)
    seconds = len(tune) / RATE
    assert abs(probe(audio.encode(tune, RATE, "opus"), "t.ogg", settings) - seconds) < 0.1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("45s", 45), ("1m", 60), ("1m30s", 90), ("1:30", 90), (" 2.5 ", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5", "nan", "1h", "1:2:3", "9" * 100])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_audio_is_reencoded_to_fit_a_small_upload_limit() -> None:
    rate = 44100
    t = np.arange(rate * 20) / rate
    music = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    master = Output("track.flac", "audio/flac", audio.encode(music, rate, "flac"))
    track = Output("track.opus", "audio/ogg", audio.encode(music, rate, "opus", bitrate=256_000))
    post, lossless, roll, midi = split_outputs(
        [
            master,
            track,
            Output("melody.mid", "audio/midi", b"MThd"),
            Output("p.png", "image/png", b"x"),
        ]
    )
    assert post is track and lossless is master and roll is not None and midi is not None
    budget = len(track.data) // 3
    data, ext, note = fit_audio(track, master, budget)
    assert len(data) <= budget and note is not None
    clip = audio.decode(data, filename=f"x.{ext}")
    assert abs(clip.duration_s - 20.0) < 0.5
    same, _, none = fit_audio(track, master, len(track.data))
    assert same == track.data and none is None
