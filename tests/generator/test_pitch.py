"""Pitch tracking: accuracy on real singing (Vocadito), steady tones, silence, sample rates."""

from __future__ import annotations

import numpy as np
import pytest

from generator.backends.arranger import pitch
from tests.generator import vocadito
from tests.generator.hum_synth import midi_to_hz, sing
from tests.metrics import pitch_accuracy


@pytest.mark.parametrize("clip", vocadito.CLIPS)
def test_vocadito_pitch_accuracy(clip: str) -> None:
    samples, rate = vocadito.audio(clip)
    track = pitch.track_pitch(samples, rate)
    ref_times, ref_f0 = vocadito.f0(clip)

    scores = pitch_accuracy(ref_times, ref_f0, track.times, track.f0_hz)

    assert scores["raw_pitch_accuracy"] >= 0.95
    assert scores["overall_accuracy"] >= 0.85


def test_track_is_consistent() -> None:
    track = pitch.track_pitch(sing([57, 60], [2, 2], 100), 22050)
    n = len(track.times)
    for array in (track.f0_hz, track.confidence, track.voiced, track.loudness_db):
        assert array.shape == (n,)
    assert track.onset_strength.shape == (n,)
    assert np.all(np.diff(track.times) > 0)
    assert np.all(track.f0_hz[~track.voiced] == 0)
    assert np.all(track.f0_hz[track.voiced] > 0)
    assert np.all((track.confidence >= 0) & (track.confidence <= 1))


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_steady_note_is_tracked_at_any_rate(rate: int) -> None:
    samples = sing([57.0], [4], 60, rate=rate, vibrato_cents=0.0)  # A3, 4 s
    track = pitch.track_pitch(samples, rate)
    assert track.times[-1] == pytest.approx(len(samples) / rate, abs=0.05)
    sung = (track.times > 0.5) & (track.times < 3.5)
    assert track.voiced[sung].mean() > 0.95
    cents = 1200 * np.log2(track.f0_hz[sung & track.voiced] / midi_to_hz(57.0))
    assert np.median(np.abs(cents)) < 10


def test_silence_and_noise_are_unvoiced() -> None:
    rng = np.random.default_rng(1)
    silence = np.zeros(22050 * 2, dtype=np.float32)
    noise = (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32)
    assert not pitch.track_pitch(silence, 22050).voiced.any()
    assert pitch.track_pitch(noise, 22050).voiced.mean() < 0.05


def test_very_short_input() -> None:
    track = pitch.track_pitch(np.zeros(100, dtype=np.float32), 22050)
    assert len(track.times) >= 1
    assert not track.voiced.any()


def test_rejects_multichannel() -> None:
    with pytest.raises(ValueError, match="mono"):
        pitch.track_pitch(np.zeros((1000, 2), dtype=np.float32), 22050)


def test_onnx_runs_on_one_thread() -> None:
    options = pitch._detector().session.get_session_options()
    assert options.intra_op_num_threads == 1


def test_numpy_yin_and_onsets_match_librosa() -> None:
    # pitch.py re-implements librosa.yin / onset_strength in numpy (librosa's numba JIT costs
    # seconds per process); they must compute the same thing.
    import librosa
    import soxr

    samples, rate = vocadito.audio("vocadito_10")
    audio = soxr.resample(samples, rate, pitch.SAMPLE_RATE)
    yin = librosa.yin(
        audio,
        fmin=pitch.FMIN_HZ,
        fmax=pitch.FMAX_HZ,
        sr=pitch.SAMPLE_RATE,
        frame_length=pitch.YIN_FRAME,
        hop_length=pitch.HOP,
    )
    onsets = librosa.onset.onset_strength(
        y=audio,
        sr=pitch.SAMPLE_RATE,
        hop_length=pitch.HOP,
        n_fft=pitch.ONSET_FFT,
        n_mels=pitch.ONSET_MELS,
    )
    assert np.allclose(pitch._yin(audio), yin, rtol=1e-4)
    assert np.allclose(pitch._onset_strength(audio), onsets, atol=1e-3)
