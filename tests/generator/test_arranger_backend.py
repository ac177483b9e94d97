"""The arranger backend end to end on real hums: styles, determinism, overrides, fidelity."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pretty_midi
import pyloudnorm
import pytest

import audio
from generator.backend import Backend, RenderRequest, RenderResult
from generator.backends.arranger.backend import ArrangerBackend
from generator.backends.arranger.styles import STYLES
from generator.errors import RenderCancelled, RenderRefused
from tests.generator import vocadito
from tests.generator.vocadito import CLIPS, DATA
from tests.metrics import chroma_cosine

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CEILING = 10 ** (-1.0 / 20)  # -1 dBFS


@pytest.fixture(scope="module")
def backend() -> Iterator[ArrangerBackend]:
    b = ArrangerBackend()
    b.load()
    yield b
    b.close()


@pytest.fixture(scope="module")
def hums() -> dict[str, audio.Clip]:
    return {
        name: audio.prepare_hum(audio.decode((DATA / f"{name}.wav").read_bytes(), f"{name}.wav"))
        for name in CLIPS
    }


def _request(
    hum: audio.Clip | None, prompt: str, duration: float = 12.0, seed: int = 0, **options: object
) -> RenderRequest:
    return RenderRequest(
        prompt=prompt,
        duration_s=duration,
        seed=seed,
        melody=None if hum is None else hum.samples,
        melody_rate=0 if hum is None else hum.sample_rate,
        options=options,
    )


def _loudness(x: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(x.astype(np.float64)))


def test_is_a_backend() -> None:
    b = ArrangerBackend()
    assert isinstance(b, Backend)
    assert (b.name, b.max_batch) == ("arranger", 1)


@pytest.mark.parametrize("style", [s.name for s in STYLES])
def test_every_style_renders_a_mastered_track(
    backend: ArrangerBackend, hums: dict[str, audio.Clip], style: str
) -> None:
    result = backend.render(_request(hums["vocadito_14"], style, duration=12.0))
    x = result.audio
    assert x.dtype == np.float32 and x.shape == (round(12.0 * result.sample_rate), 2)  # stereo
    assert np.isfinite(x).all()
    assert np.max(np.abs(x)) <= CEILING  # no clipping, peaks under -1 dBFS
    assert abs(_loudness(x, result.sample_rate) - (-14.0)) <= 1.0
    assert result.metadata["style"] == style
    assert result.metadata["notes_heard"] > 10
    assert set(result.metadata["timings"]) >= {"analysis", "arrange", "render", "master"}
    assert result.piano_roll_png is not None and result.piano_roll_png.startswith(PNG_MAGIC)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    assert len(midi.instruments) >= 3


def test_same_seed_is_identical_and_different_hums_differ(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    a = backend.render(_request(hums["vocadito_10"], "jazz", seed=5))
    b = backend.render(_request(hums["vocadito_10"], "jazz", seed=5))
    c = backend.render(_request(hums["vocadito_14"], "jazz", seed=5))
    assert np.array_equal(a.audio, b.audio)
    assert a.midi == b.midi
    assert len(a.audio) == len(c.audio)
    assert not np.allclose(a.audio, c.audio, atol=1e-3)
    assert a.midi != c.midi


def test_prompt_and_option_overrides_reach_the_midi(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    result = backend.render(_request(hums["vocadito_14"], "folk in D minor, 90 bpm"))
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    # MIDI counts quarter notes; a 6/8 beat (a dotted quarter) is 1.5 of them
    quarters = 1.5 if result.metadata["meter"] == "6/8" else 1.0
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90.0 * quarters, abs=0.01)
    assert midi.key_signature_changes[0].key_number == 2 + 12
    assert (result.metadata["key"], result.metadata["bpm"]) == ("D minor", 90.0)
    # options from the bot's parameters beat the prompt
    result = backend.render(
        _request(hums["vocadito_14"], "folk in D minor", key="A major", bpm=120, style="rock")
    )
    assert (result.metadata["style"], result.metadata["key"], result.metadata["bpm"]) == (
        "rock",
        "A major",
        120.0,
    )


def test_text_only_request_is_still_music(backend: ArrangerBackend) -> None:
    result = backend.render(_request(None, "chiptune in G, 140 bpm", duration=10.0, seed=2))
    assert len(result.audio) == 10 * result.sample_rate
    assert abs(_loudness(result.audio, result.sample_rate) + 14.0) <= 1.0
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    assert any(i.name == "lead" and len(i.notes) >= 8 for i in midi.instruments)


def test_progress_reports_stages_in_order_and_cancel_propagates(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    seen: list[tuple[float, str]] = []
    backend.render(
        _request(hums["vocadito_10"], "lofi", duration=6.0), lambda f, s: seen.append((f, s))
    )
    stages = [s for _, s in seen]
    assert (
        stages[0] == "pitch"
        and "arrange" in stages
        and "render" in stages
        and stages[-1] == "master"
    )
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)

    def cancel(fraction: float, stage: str) -> None:
        if stage == "render":
            raise RenderCancelled()

    with pytest.raises(RenderCancelled):
        backend.render(_request(hums["vocadito_10"], "lofi", duration=6.0), cancel)


def test_check_refuses_with_the_limit_in_the_message(backend: ArrangerBackend) -> None:
    with pytest.raises(RenderRefused, match="120") as info:
        backend.check(_request(None, "lofi", duration=600.0))
    assert info.value.code == "bad_duration"
    with pytest.raises(RenderRefused) as info:
        backend.check(_request(None, "lofi", style="polka-step"))
    assert info.value.code == "unknown_style"


def _follow(
    backend: ArrangerBackend,
    hum: audio.Clip,
    rendered_from: audio.Clip,
    style: str = "piano ballad",
) -> float:
    """Chroma cosine of ``hum`` vs the track made from ``rendered_from``, aligned at the hum."""
    result = backend.render(_request(rendered_from, style, duration=30.0, style=style))
    offset = max(0, round(result.metadata["hum_offset_s"] * result.sample_rate))
    return chroma_cosine(hum.samples, hum.sample_rate, result.audio[offset:], result.sample_rate)


def test_output_follows_its_own_hum_better_than_another(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    a, b = hums["vocadito_10"], hums["vocadito_14"]
    own_a, own_b = _follow(backend, a, a), _follow(backend, b, b)
    cross_a, cross_b = _follow(backend, a, b), _follow(backend, b, a)
    assert own_a > cross_a + 0.1
    assert own_b > cross_b + 0.1
    assert min(own_a, own_b) >= 0.30  # chance is 1/12


# Measured (benchmarks/fidelity.py, seeds 0/1/7): every style 0.39-0.56 on both clips, mean
# over styles 0.44-0.51; the notes the arranger plays score 0.46 / 0.61 as a bare sine, which
# bounds what any arrangement of them can reach. Bounds below leave ~2-3 frames of margin.
MIN_STYLE_FIDELITY = 0.35
MIN_MEAN_FIDELITY = 0.40


@pytest.fixture(scope="module")
def tracks(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> dict[tuple[str, str], RenderResult]:
    return {
        (style.name, clip): backend.render(
            _request(hums[clip], style.name, duration=30.0, style=style.name)
        )
        for style in STYLES
        for clip in CLIPS
    }


@pytest.fixture(scope="module")
def fidelity(
    tracks: dict[tuple[str, str], RenderResult], hums: dict[str, audio.Clip]
) -> dict[tuple[str, str], float]:
    scores = {}
    for (style, clip), result in tracks.items():
        offset = max(0, round(result.metadata["hum_offset_s"] * result.sample_rate))
        hum = hums[clip]
        scores[style, clip] = chroma_cosine(
            hum.samples, hum.sample_rate, result.audio[offset:], result.sample_rate
        )
    return scores


def test_every_style_follows_the_hum(fidelity: dict[tuple[str, str], float]) -> None:
    low = {key: round(v, 3) for key, v in fidelity.items() if v < MIN_STYLE_FIDELITY}
    assert not low, f"styles under {MIN_STYLE_FIDELITY}: {low}"
    for clip in CLIPS:
        mean = float(np.mean([v for (_, c), v in fidelity.items() if c == clip]))
        assert mean >= MIN_MEAN_FIDELITY, (clip, mean)


# Issue 10, point 7: the issue-3 target (argmax chroma >= 0.75 against the hum audio) is
# retired: the hum's own argmax chroma is often a harmonic on a low voice. The revised measure
# compares the track with what the singer sang: a sine following the annotated f0, placed at
# every statement of the melody, chroma without the argmax, on the frames where it sounds.
MIN_F0_FIDELITY = 0.75


@pytest.fixture(scope="module")
def f0_fidelity(
    tracks: dict[tuple[str, str], RenderResult], hums: dict[str, audio.Clip]
) -> dict[str, dict[str, float]]:
    """Per clip: mean over the styles of the revised measure, and of its two controls."""
    trims = {c: vocadito.trim_offset(c, hums[c].samples, hums[c].sample_rate) for c in CLIPS}
    out: dict[str, dict[str, float]] = {}
    for clip in CLIPS:
        scores = [
            vocadito.f0_fidelity(
                clip, r.audio, r.sample_rate, list(r.metadata["hum_offsets_s"]), trims
            )
            for (_, c), r in tracks.items()
            if c == clip
        ]
        out[clip] = {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}
    return out


@pytest.mark.parametrize("clip", CLIPS)
def test_track_follows_the_sung_f0(f0_fidelity: dict[str, dict[str, float]], clip: str) -> None:
    scores = f0_fidelity[clip]
    assert scores["own f0"] >= MIN_F0_FIDELITY, scores
    # the controls: the measure really tells the sung melody from another or a shifted one
    assert scores["other clip's f0"] <= scores["own f0"] - 0.2, scores
    assert scores["f0 + 2 semitones"] <= scores["own f0"] - 0.2, scores


# --- the preview's choice (issue 10, point 4) and the metres the arranger plays --------------


def test_a_pinned_reading_is_rendered_exactly(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    reading = {"bpm": 80, "meter": "3/4", "key": "F major"}
    result = backend.render(
        _request(hums["vocadito_14"], "folk in D minor, 120 bpm, 4/4", reading=reading)
    )
    meta = result.metadata
    assert (meta["key"], meta["bpm"], meta["meter"], meta["beats_per_bar"]) == (
        "F major",
        80.0,
        "3/4",
        3,
    )
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    signature = midi.time_signature_changes[0]
    assert (signature.numerator, signature.denominator) == (3, 4)
    assert midi.get_tempo_changes()[1][0] == pytest.approx(80.0, abs=0.01)


def test_octave_choice_moves_the_lead_by_an_octave(
    backend: ArrangerBackend, hums: dict[str, audio.Clip]
) -> None:
    def lead_pitches(octave: int) -> list[int]:
        result = backend.render(
            _request(hums["vocadito_10"], "folk", reading={"octave": octave, "bpm": 90})
        )
        midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
        lead = next(i for i in midi.instruments if i.name == "lead")
        return sorted(n.pitch % 12 for n in lead.notes)

    # whole-octave moves keep the pitch classes the lead plays
    assert lead_pitches(0) == lead_pitches(1)


@pytest.mark.parametrize("meter", ["2/4", "3/4", "4/4", "6/8"])
def test_every_metre_is_arranged_in_its_own_bars(
    backend: ArrangerBackend, hums: dict[str, audio.Clip], meter: str
) -> None:
    result = backend.render(_request(hums["vocadito_14"], f"rock in {meter}", style="rock"))
    assert result.metadata["meter"] == meter
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    signature = midi.time_signature_changes[0]
    assert f"{signature.numerator}/{signature.denominator}" == meter
    beat_s = 60.0 / result.metadata["bpm"]
    drums = next(i for i in midi.instruments if i.is_drum)
    # bar lines count from bar 0, which starts after the pickup beats (a fill into bar 1)
    origin = result.metadata["pickup_beats"] * beat_s
    kicks = np.array([n.start for n in drums.notes if n.pitch == 36]) - origin
    bar_s = beat_s * result.metadata["beats_per_bar"]
    # the kick marks the bar: most kicks on a bar line or a beat, none off the subdivision grid
    step = beat_s / (3 if meter == "6/8" else 4)
    on_grid = np.abs(kicks / step - np.round(kicks / step)) < 0.15
    assert on_grid.mean() > 0.9
    assert np.mean(np.abs(kicks / bar_s - np.round(kicks / bar_s)) < 0.05) > 0.3
