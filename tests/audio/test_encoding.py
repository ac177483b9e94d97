"""encode() round-trips through decode(); encode_within() shrinks to fit a Discord upload cap."""

from __future__ import annotations

import numpy as np
import pytest

import audio
from audio import AudioRejected
from tests.audio.synth import HUM_S, NOTES_HZ, note_pitches, synth_hum


def _music(seconds: float, rate: int = 44100) -> np.ndarray:
    """Several seconds of something busier than a hum: chords plus a noisy hi-hat."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63, 440.0))
    hats = np.random.default_rng(5).standard_normal(len(t)) * (np.sin(2 * np.pi * 4 * t) > 0.9)
    return (0.15 * chord + 0.05 * hats).astype(np.float32)


@pytest.mark.parametrize(
    ("fmt", "rate", "decoded_rate", "container", "codec"),
    [
        ("opus", 44100, 48000, "ogg", "opus"),
        ("mp3", 44100, 44100, "mp3", "mp3"),
        ("mp3", 22050, 22050, "mp3", "mp3"),
        ("wav", 22050, 22050, "wav", "pcm_s16le"),
        ("flac", 32000, 32000, "flac", "flac"),
    ],
)
def test_round_trip(fmt: str, rate: int, decoded_rate: int, container: str, codec: str) -> None:
    x = synth_hum(rate)
    data = audio.encode(x, rate, fmt)
    info = audio.probe(data)
    assert (info.container, info.sample_rate, info.channels) == (container, decoded_rate, 1)
    assert info.codec.startswith(codec)
    clip = audio.decode(data)
    assert clip.duration_s == pytest.approx(HUM_S, abs=0.05)
    for heard, sung in zip(note_pitches(clip.samples, clip.sample_rate), NOTES_HZ, strict=True):
        assert heard == pytest.approx(sung, rel=0.01)
    if fmt in ("wav", "flac"):
        # 16-bit lossless: within one quantisation step.
        np.testing.assert_allclose(clip.samples, x, atol=1.0 / 32768 + 1e-7)


def test_stereo_input_stays_stereo() -> None:
    x = synth_hum(48000, channels=2)
    for fmt in ("opus", "mp3", "flac"):
        assert audio.probe(audio.encode(x, 48000, fmt)).channels == 2


def test_lower_bitrate_gives_smaller_file() -> None:
    x = _music(5)
    sizes = [len(audio.encode(x, 44100, "opus", bitrate)) for bitrate in (128_000, 32_000)]
    assert sizes[1] < sizes[0] / 2
    # Opus VBR lands near its target: 32 kbit/s for 5 s is 20 kB.
    assert sizes[1] == pytest.approx(32_000 * 5 / 8, rel=0.25)


def test_out_of_range_samples_are_clipped_not_wrapped() -> None:
    x = np.full(8000, 1.5, dtype=np.float32)
    clip = audio.decode(audio.encode(x, 16000, "wav"))
    assert float(clip.samples.max()) == pytest.approx(1.0, abs=1e-4)


def test_encode_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        audio.encode(np.array([0.0, np.nan], dtype=np.float32), 16000, "wav")
    with pytest.raises(ValueError, match="unknown format"):
        audio.encode(np.zeros(100, dtype=np.float32), 16000, "aiff")
    with pytest.raises(ValueError, match="shape"):
        audio.encode(np.zeros((100, 6), dtype=np.float32), 16000, "wav")


def test_encode_within_keeps_preferred_quality_when_it_fits() -> None:
    x = _music(10)
    data, ext = audio.encode_within(x, 44100, 25 * 1024 * 1024, preferred="flac")
    assert ext == "flac"
    assert audio.probe(data).codec == "flac"


def test_encode_within_steps_down_the_bitrate_to_fit() -> None:
    x = _music(30)
    cap = 200_000  # 30 s at 96 kbit/s would be ~360 kB
    assert len(audio.encode(x, 44100, "opus")) > cap
    data, ext = audio.encode_within(x, 44100, cap)
    assert ext == "opus"
    assert len(data) <= cap
    # It used the headroom: more than half the cap, so not needlessly low quality.
    assert len(data) > cap / 2
    assert audio.decode(data).duration_s == pytest.approx(30, abs=0.05)


def test_encode_within_falls_back_from_wav_to_opus() -> None:
    x = _music(20)  # ~1.7 MB as 16-bit wav
    data, ext = audio.encode_within(x, 44100, 1024 * 1024, preferred="wav")
    assert ext == "opus"
    assert audio.probe(data).container == "ogg"


def test_encode_within_mp3_then_opus() -> None:
    x = _music(20)
    data, ext = audio.encode_within(x, 44100, 150_000, preferred="mp3")
    assert ext == "mp3"
    assert len(data) <= 150_000
    # 20 s even at 32 kbit/s MP3 is 80 kB; below that only Opus fits.
    data, ext = audio.encode_within(x, 44100, 60_000, preferred="mp3")
    assert (ext, len(data) <= 60_000) == ("opus", True)


def test_encode_within_refuses_when_nothing_fits() -> None:
    with pytest.raises(AudioRejected) as info:
        audio.encode_within(_music(30), 44100, 8 * 1024)
    assert info.value.code == "too_large"
    assert "8 KB" in info.value.message and "30 s" in info.value.message


@pytest.mark.parametrize(
    ("ext", "content_type"),
    [
        ("opus", "audio/ogg"),
        (".ogg", "audio/ogg"),
        ("MP3", "audio/mpeg"),
        ("wav", "audio/wav"),
        ("flac", "audio/flac"),
        ("mid", "audio/midi"),
        ("png", "image/png"),
        ("xyz", "application/octet-stream"),
    ],
)
def test_guess_content_type(ext: str, content_type: str) -> None:
    assert audio.guess_content_type(ext) == content_type


def test_every_output_format_has_a_content_type() -> None:
    for fmt in audio.OUTPUT_FORMATS:
        assert audio.guess_content_type(fmt).startswith("audio/")
