"""Fidelity metrics: chroma cosine (audiocraft recipe), pitch accuracy, note F1."""

from __future__ import annotations

import numpy as np
import pytest

from generator.backends.arranger.types import Note
from tests.generator import vocadito
from tests.generator.hum_synth import RATE, midi_to_hz, sing
from tests.metrics import chroma_cosine, chroma_frames, note_f1, note_scores, pitch_accuracy

TUNE = ([60, 64, 67, 72, 67, 64, 60, 62, 65, 69, 65, 62], [2] * 12)


def test_chroma_frames_shape_and_one_hot() -> None:
    audio = sing(*TUNE, 100)
    frames = chroma_frames(audio, RATE)
    expected = 1 + (len(audio) * 32000 // RATE) // 4096
    assert frames.shape[1] == 12
    assert abs(frames.shape[0] - expected) <= 1
    assert np.all(frames.sum(axis=1) == 1.0)


def test_pure_tone_lands_on_its_pitch_class() -> None:
    t = np.arange(RATE * 2) / RATE
    a440 = np.sin(2 * np.pi * midi_to_hz(69) * t).astype(np.float32)
    frames = chroma_frames(a440, RATE)
    assert np.all(frames[1:-1].argmax(axis=1) == 9)  # A


def test_chroma_cosine_self_and_resampled() -> None:
    audio = sing(*TUNE, 100)
    assert chroma_cosine(audio, RATE, audio, RATE) == pytest.approx(1.0)
    at_48k = sing(*TUNE, 100, rate=48000)
    assert chroma_cosine(audio, RATE, at_48k, 48000) > 0.9


def test_chroma_cosine_drops_for_another_melody() -> None:
    audio = sing(*TUNE, 100)
    tritone_away = sing([p + 6 for p in TUNE[0]], TUNE[1], 100)
    assert chroma_cosine(audio, RATE, tritone_away, RATE) < 0.2


def test_chroma_cosine_uses_overlapping_frames_only() -> None:
    audio = sing(*TUNE, 100)
    longer = np.concatenate([audio, sing([61] * 10, [2] * 10, 100)])
    assert chroma_cosine(audio, RATE, longer, RATE) == pytest.approx(1.0)
    assert chroma_cosine(longer, RATE, audio, RATE) == pytest.approx(1.0)


def test_pitch_accuracy() -> None:
    times, f0 = vocadito.f0("vocadito_10")
    perfect = pitch_accuracy(times, f0, times, f0)
    assert perfect["raw_pitch_accuracy"] == pytest.approx(1.0)
    assert perfect["overall_accuracy"] == pytest.approx(1.0)
    assert perfect["voicing_false_alarm"] == pytest.approx(0.0)

    semitone_up = pitch_accuracy(times, f0, times, f0 * 2 ** (1 / 12))
    assert semitone_up["raw_pitch_accuracy"] == pytest.approx(0.0)
    assert semitone_up["voicing_recall"] == pytest.approx(1.0)

    octave_up = pitch_accuracy(times, f0, times, f0 * 2)
    assert octave_up["raw_pitch_accuracy"] == pytest.approx(0.0)
    assert octave_up["raw_chroma_accuracy"] == pytest.approx(1.0)

    all_voiced = pitch_accuracy(times, f0, times, np.where(f0 > 0, f0, 200.0))
    assert all_voiced["voicing_false_alarm"] == pytest.approx(1.0)
    assert all_voiced["overall_accuracy"] < perfect["overall_accuracy"]


def test_note_f1_tolerances() -> None:
    ref = vocadito.notes("vocadito_14", "A1")
    assert note_f1(ref, ref) == pytest.approx(1.0)

    def moved(dt: float = 0.0, cents: float = 0.0, stretch: float = 1.0) -> list[Note]:
        return [
            Note(n.start + dt, n.start + dt + n.duration * stretch, n.pitch + cents / 100)
            for n in ref
        ]

    assert note_f1(ref, moved(dt=0.08)) == pytest.approx(1.0)  # within 100 ms
    assert note_f1(ref, moved(dt=0.15)) < 0.2
    assert note_f1(ref, moved(cents=40)) == pytest.approx(1.0)  # within 50 cents
    assert note_f1(ref, moved(cents=60)) < 0.1
    assert note_f1(ref, moved(stretch=0.3)) == pytest.approx(1.0)  # offsets ignored

    half = ref[::2]
    scores = note_scores(ref, half)
    assert scores["precision"] == pytest.approx(1.0)
    assert scores["recall"] == pytest.approx(len(half) / len(ref))


def test_note_f1_empty() -> None:
    ref = vocadito.notes("vocadito_10", "A2")
    assert note_f1(ref, []) == 0.0
    assert note_f1([], ref) == 0.0
    assert note_f1([], []) == 1.0


def test_annotators_agree_as_documented() -> None:
    # The Vocadito README: A1 vs A2 onset-only F1 at mir_eval's default 50 ms tolerance.
    a1, a2 = vocadito.notes("vocadito_10", "A1"), vocadito.notes("vocadito_10", "A2")
    assert note_scores(a1, a2, onset_tolerance=0.05)["f1"] == pytest.approx(0.677, abs=0.001)


@pytest.mark.musicgen
def test_chroma_matches_audiocraft_extractor() -> None:
    # audiocraft's ChromaExtractor, rebuilt in torch: torchaudio-style normalised power
    # spectrogram (periodic Hann, reflect-centred), the same librosa filter bank, ∞-norm, argmax.
    torch = pytest.importorskip("torch")
    from tests.metrics import CHROMA_FFT, CHROMA_HOP, CHROMA_RATE, _chroma_bank

    samples, rate = vocadito.audio("vocadito_14")
    import soxr

    wav = torch.from_numpy(soxr.resample(samples, rate, CHROMA_RATE).astype(np.float32))[None]
    window = torch.hann_window(CHROMA_FFT)
    spec = torch.stft(
        wav,
        CHROMA_FFT,
        CHROMA_HOP,
        CHROMA_FFT,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = (spec / window.pow(2).sum().sqrt()).abs() ** 2
    chroma = torch.einsum("cf,...ft->...ct", torch.from_numpy(_chroma_bank()).float(), power)
    chroma = torch.nn.functional.normalize(chroma, p=float("inf"), dim=-2, eps=1e-6)
    theirs = chroma[0].argmax(dim=0).numpy()

    ours = chroma_frames(samples, rate).argmax(axis=1)
    assert len(ours) == len(theirs)
    assert np.mean(ours == theirs) > 0.98
