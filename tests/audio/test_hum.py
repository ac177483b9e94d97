"""prepare_hum(): resampling, rumble and mains removal, trimming, loudness, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

import audio
from audio import AudioRejected, Clip
from tests.audio.synth import HUM_S, NOTES_HZ, note_pitches, synth_hum
from tests.metrics import reference_lufs

VOCADITO = sorted((Path(__file__).parents[1] / "data" / "vocadito").glob("*.wav"))
RATE = 22050


def _clip(x: npt.NDArray[np.floating], rate: int) -> Clip:
    return Clip(np.asarray(x, dtype=np.float32), rate)


def _lufs(clip: Clip) -> float:
    return reference_lufs(clip.samples, clip.sample_rate)


def _band_db(x: npt.NDArray[np.floating], rate: int, hz: float) -> float:
    freqs, psd = signal.welch(x, fs=rate, nperseg=rate)
    return float(10 * np.log10(psd[np.abs(freqs - hz) <= 1.0].max()))


def test_messy_phone_hum_comes_out_clean() -> None:
    rate = 48000
    hum = synth_hum(rate).astype(np.float64)
    t = np.arange(int(0.8 * rate) * 2 + len(hum)) / rate
    quiet = 0.0005 * np.random.default_rng(0).standard_normal(int(0.8 * rate))
    x = np.concatenate([quiet, hum, quiet])
    mains = sum(0.02 / k * np.sin(2 * np.pi * 60 * k * t) for k in (1, 2, 3))
    x = 0.3 * x + mains + 0.1  # quiet hum, 60 Hz mains with harmonics, DC offset

    out = audio.prepare_hum(_clip(x, rate), RATE)

    assert out.sample_rate == RATE
    assert out.samples.dtype == np.float32
    # Trimmed to the hum (plus the 50 ms pads), not the 1.6 s of room noise around it.
    assert out.duration_s == pytest.approx(HUM_S + 0.1, abs=0.1)
    assert abs(float(np.mean(out.samples))) < 1e-3
    assert _lufs(out) == pytest.approx(-20.0, abs=0.5)
    assert float(np.abs(out.samples).max()) <= 10 ** (-1 / 20) + 1e-6
    # Mains and its harmonics drop by > 20 dB relative to the hum's first note.
    start = int(0.8 * rate)
    before = x[start : start + len(hum)]
    for hz in (60, 120, 180):
        drop_in = _band_db(before, rate, 220) - _band_db(before, rate, hz)
        drop_out = _band_db(out.samples, RATE, 220) - _band_db(out.samples, RATE, hz)
        assert drop_out - drop_in > 20, hz
    offset = (len(out.samples) / RATE - HUM_S) / 2
    for heard, sung in zip(note_pitches(out.samples, RATE, offset), NOTES_HZ, strict=True):
        assert heard == pytest.approx(sung, rel=0.01)


def test_clean_hum_is_not_notched() -> None:
    # No mains line: the 220 Hz note (a multiple of neither 50 nor 60... well, of neither notch
    # set's low harmonics at 120/180) keeps its level; loudness still lands on target.
    out = audio.prepare_hum(_clip(synth_hum(44100), 44100), RATE, target_lufs=-16.0)
    assert _lufs(out) == pytest.approx(-16.0, abs=0.5)
    assert out.duration_s == pytest.approx(HUM_S, abs=0.1)


@pytest.mark.parametrize("path", VOCADITO, ids=[p.stem for p in VOCADITO])
def test_vocadito_singing_passes(path: Path) -> None:
    clip = audio.decode(path.read_bytes(), path.name)
    out = audio.prepare_hum(clip)
    assert out.sample_rate == 22050
    # Only leading/trailing silence goes.
    assert 0.8 * clip.duration_s < out.duration_s <= clip.duration_s
    assert _lufs(out) == pytest.approx(-20.0, abs=0.5)


def _noise(kind: str, n: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(7)
    white = rng.standard_normal(n)
    if kind == "white":
        return 0.1 * white
    if kind == "brown":
        x = np.cumsum(white)
        return 0.5 * (x - x.mean()) / np.abs(x - x.mean()).max()
    spectrum = np.fft.rfft(white)
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    x = np.fft.irfft(spectrum, n)
    return 0.5 * x / np.abs(x).max()


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_pure_noise_is_refused(kind: str) -> None:
    with pytest.raises(AudioRejected) as info:
        audio.prepare_hum(_clip(_noise(kind, 3 * 44100), 44100))
    assert info.value.code == "noise"
    assert "20%" in info.value.message


def test_hum_in_noisy_room_passes() -> None:
    hum = synth_hum(44100).astype(np.float64)
    noise = _noise("pink", len(hum))
    noise *= np.sqrt(np.mean(hum**2) / np.mean(noise**2)) / 10 ** (5 / 20)  # 5 dB SNR
    out = audio.prepare_hum(_clip(hum + noise, 44100))
    assert out.duration_s > 2.0


@pytest.mark.parametrize("level", [0.0, 1e-4], ids=["digital", "room-tone"])
def test_silence_is_refused(level: float) -> None:
    x = level * np.random.default_rng(3).standard_normal(2 * 44100)  # -80 dBFS or nothing
    with pytest.raises(AudioRejected) as info:
        audio.prepare_hum(_clip(x, 44100))
    assert info.value.code == "silent"
    assert "-60 dBFS" in info.value.message


def test_blip_in_silence_is_too_short() -> None:
    x = np.zeros(3 * 44100)
    x[44100 : 44100 + 4410] = synth_hum(44100)[:4410]  # 0.1 s of hum
    with pytest.raises(AudioRejected) as info:
        audio.prepare_hum(_clip(x, 44100))
    assert info.value.code == "too_short"
    assert "0.5 s" in info.value.message


def test_loudness_gives_way_to_peak_ceiling() -> None:
    # A quiet hum with one loud click: reaching -20 LUFS would clip, so the peak wins.
    x = 0.05 * synth_hum(44100).astype(np.float64)
    x[44100] = 0.9
    out = audio.prepare_hum(_clip(x, 44100))
    assert float(np.abs(out.samples).max()) == pytest.approx(10 ** (-1 / 20), rel=1e-3)
    assert _lufs(out) < -20.0


def test_same_rate_input_is_not_resampled() -> None:
    x = synth_hum(RATE)
    out = audio.prepare_hum(_clip(x, RATE), RATE)
    assert out.sample_rate == RATE
    assert len(out.samples) <= len(x)
