"""The jam count-in clip: one bar of knocks at the tempo (accented downbeat) over the tonic."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from scipy import signal

from audio.countin import COUNT_IN_RATE, TAIL_S, count_in, tonic_chord

RATE = COUNT_IN_RATE


def _knock_onsets(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times and heights of the knocks: the chord lives below ~1 kHz, the knocks above."""
    sos = signal.butter(4, 1000, "highpass", fs=RATE, output="sos")
    env = np.convolve(np.abs(signal.sosfilt(sos, x)), np.ones(96) / 96, mode="same")
    peaks, _ = signal.find_peaks(env, height=0.25 * env.max(), distance=int(0.15 * RATE))
    return peaks / RATE, env[peaks]


@pytest.mark.parametrize(("bpm", "beats"), [(100.0, 4), (72.0, 3), (140.0, 4), (90.0, 6)])
def test_one_bar_of_knocks_at_the_tempo_with_an_accented_downbeat(bpm: float, beats: int) -> None:
    x = count_in(bpm, beats, 2, True)
    beat_s = 60.0 / bpm
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) / RATE == pytest.approx(beats * beat_s + TAIL_S, abs=1e-3)
    times, heights = _knock_onsets(x.astype(np.float64))
    assert len(times) == beats, times
    np.testing.assert_allclose(times, np.arange(beats) * beat_s, atol=0.012)
    assert heights[0] > 1.3 * heights[1:].max()  # beat 1 stands out


@pytest.mark.parametrize(
    ("tonic", "minor"), [(2, True), (0, False), (7, False), (9, True), (10, False)]
)
def test_the_chord_is_the_keys_tonic_triad_led_by_its_root(tonic: int, minor: bool) -> None:
    x = count_in(96.0, 4, tonic, minor).astype(np.float64)
    chroma = librosa.feature.chroma_cqt(y=x, sr=RATE).mean(axis=1)
    top = [int(i) for i in np.argsort(chroma)[::-1][:3]]
    third = (tonic + (3 if minor else 4)) % 12
    assert top[0] == tonic
    assert set(top) == {tonic, third, (tonic + 7) % 12}
    other_third = (tonic + (4 if minor else 3)) % 12
    assert chroma[third] > 3 * chroma[other_third]  # major and minor are told apart


def test_it_sounds_like_an_instrument_not_a_test_tone() -> None:
    x = count_in(100.0, 4, 4, False)
    assert 0.5 < float(np.max(np.abs(x))) <= 0.81  # loud enough, never clipping
    # no clicks at the edges: it starts from silence and fades out
    assert abs(float(x[0])) < 1e-3 and float(np.max(np.abs(x[-50:]))) < 1e-3
    # the chord decays: the last beat of the bar is quieter than the first
    beat = int(0.6 * RATE)
    first, last = x[200:beat], x[3 * beat + 2400 : 4 * beat]
    assert np.sqrt(np.mean(last**2)) < 0.8 * np.sqrt(np.mean(first**2))


def test_the_voicing_puts_the_home_note_in_humming_range() -> None:
    for tonic in range(12):
        chord = tonic_chord(tonic, minor=False)
        assert 48 <= chord[0] <= 59 and 60 <= chord[2] <= 71
        assert {p % 12 for p in chord} == {tonic, (tonic + 4) % 12, (tonic + 7) % 12}


def test_same_session_same_clip_and_it_is_read_only() -> None:
    a = count_in(100.0, 4, 2, True)
    assert count_in(100, 4, 14, True) is a  # the cache; tonic taken mod 12
    with pytest.raises(ValueError):
        a[0] = 1.0
    with pytest.raises(ValueError):
        count_in(0.0, 4, 2, True)
