"""The arranger sounds like a record: stereo, mastered to spec, played, ended, stems, loops.

One 30 s render per style (the demo hum, stems on) is shared by the tests below; measurements
come from ``audio.meter`` except the true peak, which is measured here independently (scipy's
polyphase 4× oversampling, not the soxr envelope the limiter steers by).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from scipy import signal

import audio
from audio import meter
from audio.stems import encode_stems, pack_stems, read_stems
from generator.backend import RenderRequest, RenderResult
from generator.backends.arranger.arrange import MAX_TAIL_FRACTION
from generator.backends.arranger.backend import ArrangerBackend
from generator.backends.arranger.mastering import master_stems
from generator.backends.arranger.render import REVERB_STEM, STEMS, Synthesizer
from generator.backends.arranger.styles import STYLES
from generator.backends.arranger.types import PITCH_CLASSES
from generator.settings import SOUNDFONTS, GeneratorSettings
from tests.metrics import reference_lufs

DURATION = 30.0
STYLE_NAMES = [s.name for s in STYLES]


@pytest.fixture(scope="module")
def backend() -> Iterator[ArrangerBackend]:
    b = ArrangerBackend()
    b.load()
    yield b
    b.close()


@pytest.fixture(scope="module")
def hum() -> audio.Clip:
    data = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    return audio.prepare_hum(audio.decode(data, "demo_hum.ogg"))


def _request(
    hum: audio.Clip, style: str, duration: float = DURATION, **options: object
) -> RenderRequest:
    return RenderRequest(
        prompt=style,
        duration_s=duration,
        seed=0,
        melody=hum.samples,
        melody_rate=hum.sample_rate,
        options=options,
    )


@pytest.fixture(scope="module")
def tracks(backend: ArrangerBackend, hum: audio.Clip) -> dict[str, RenderResult]:
    return {name: backend.render(_request(hum, name, stems=True)) for name in STYLE_NAMES}


def _true_peak_dbtp(x: np.ndarray) -> float:
    up = signal.resample_poly(x.astype(np.float64), 4, 1, axis=0)
    return float(20 * np.log10(np.abs(up).max()))


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_every_style_is_stereo_with_a_real_image(
    tracks: dict[str, RenderResult], style: str
) -> None:
    x = tracks[style].audio
    assert x.dtype == np.float32 and x.shape == (round(DURATION * 44100), 2)
    assert not np.allclose(x[:, 0], x[:, 1], atol=1e-3)
    # instruments are panned: a real side signal, yet the mix stays centred (no channel
    # carries everything)
    assert 0.01 < meter.stereo_width(x) < 0.6
    left, right = (float(np.sqrt(np.mean(x[:, c] ** 2))) for c in (0, 1))
    assert abs(20 * np.log10(left / right)) < 3.0


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_every_style_meets_the_loudness_spec(tracks: dict[str, RenderResult], style: str) -> None:
    x, rate = tracks[style].audio, tracks[style].sample_rate
    assert abs(reference_lufs(x, rate) - (-14.0)) <= 1.0
    assert _true_peak_dbtp(x) <= -1.0
    assert 4.0 <= meter.loudness_range(x, rate) <= 12.0


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_stems_sum_to_the_mix(tracks: dict[str, RenderResult], style: str) -> None:
    result = tracks[style]
    assert result.stems is not None
    assert {"lead", "bass", "keys", REVERB_STEM} <= set(result.stems)
    assert set(result.stems) <= {*STEMS, REVERB_STEM, "vinyl"}
    total = np.sum(list(result.stems.values()), axis=0)
    residual = total - result.audio
    ratio_db = 10 * np.log10(np.sum(residual**2) / np.sum(result.audio**2) + 1e-30)
    assert ratio_db <= -50.0
    for name, stem in result.stems.items():
        assert stem.shape == result.audio.shape, name
        assert np.abs(stem).max() > 1e-4, f"{name} is silent"


def test_stem_files_in_a_zip_sum_to_the_track_file(tracks: dict[str, RenderResult]) -> None:
    """What a user downloads: 16-bit FLACs summed back give the 16-bit FLAC master."""
    result = tracks["funk"]
    assert result.stems is not None
    files = encode_stems(result.stems, result.sample_rate, "funk-", max_bytes=25 * 2**20)
    zips = pack_stems(files, max_bytes=25 * 2**20)
    assert [z.name for z in zips] == ["stems.zip"]
    members = read_stems([z.data for z in zips])
    assert set(members) == {f"funk-{name}.flac" for name in result.stems}
    decoded = [sf.read(io.BytesIO(data), dtype="float64")[0] for data in members.values()]
    assert all(d.shape == result.audio.shape for d in decoded)  # stereo, full length
    master, _ = sf.read(io.BytesIO(audio.encode(result.audio, result.sample_rate, "flac")))
    residual = np.sum(decoded, axis=0) - master
    assert 10 * np.log10(np.sum(residual**2) / np.sum(master**2)) <= -50.0


def test_stem_zips_split_to_fit_the_upload_limit(tracks: dict[str, RenderResult]) -> None:
    result = tracks["rock"]
    assert result.stems is not None
    limit = 3 * 2**20
    files = encode_stems(result.stems, result.sample_rate, "", max_bytes=limit)
    zips = pack_stems(files, max_bytes=limit)
    assert len(zips) >= 2
    assert all(len(z.data) <= limit for z in zips)
    assert [z.name for z in zips] == [f"stems-{i + 1}of{len(zips)}.zip" for i in range(len(zips))]
    assert set(read_stems([z.data for z in zips])) == {f.name for f in files}


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_a_real_ending_on_the_tonic_with_a_short_tail(
    tracks: dict[str, RenderResult], style: str
) -> None:
    result = tracks[style]
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    last = max(n.start for inst in midi.instruments for n in inst.notes)
    # the final downbeat comes late: the ring-out after it is at most 8 % of the track
    assert DURATION - last <= MAX_TAIL_FRACTION * DURATION + 0.02
    tonic = PITCH_CLASSES.index(result.metadata["key"].split()[0])
    final = {
        (inst.name, n.pitch % 12)
        for inst in midi.instruments
        if not inst.is_drum
        for n in inst.notes
        if n.start >= last - 0.05
    }
    assert ("bass", tonic) in final and ("lead", tonic) in final
    # and the audio ends: silence at the very end, not a cut
    x, rate = result.audio, result.sample_rate
    end_rms = float(np.sqrt(np.mean(x[-int(0.02 * rate) :] ** 2)))
    assert 20 * np.log10(end_rms / float(np.sqrt(np.mean(x**2))) + 1e-12) < -40.0


def _drum_notes(result: RenderResult) -> list[pretty_midi.Note]:
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    return [n for inst in midi.instruments if inst.is_drum for n in inst.notes]


def _grid_phase(times: list[float], origin: float, beat: float) -> np.ndarray:
    """Where each time falls within its beat (0..1)."""
    return ((np.asarray(times) - origin) / beat) % 1.0


@pytest.fixture(scope="module")
def simple_time(backend: ArrangerBackend, hum: audio.Clip) -> dict[str, RenderResult]:
    """Tracks pinned to 4/4: swing and a laid-back snare are measured on a simple-time grid
    (a hum read in 6/8 is played in threes, without swing)."""
    return {
        name: backend.render(replace(_request(hum, name), prompt=f"{name} in 4/4"))
        for name in ("lofi", "jazz", "rock")
    }


def test_played_not_sequenced(simple_time: dict[str, RenderResult]) -> None:
    result = simple_time["lofi"]
    beat = 60.0 / result.metadata["bpm"]
    drums = _drum_notes(result)
    kicks = sorted(n.start for n in drums if n.pitch == 36)
    snares = [n.start for n in drums if n.pitch == 38]
    # the snare lies back against the kick's grid (lofi: ~24 ms late)
    late = np.median(_grid_phase(snares, kicks[0], beat)) * beat
    assert 0.012 < late < 0.04
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    chords = next(i for i in midi.instruments if i.name == "chords")
    velocities = np.array([n.velocity for n in chords.notes])
    assert velocities.std() > 5
    # the arc: the intro is softer than the song, in velocity and in expression (CC11)
    start = result.metadata["melody_start_s"]
    intro = [n.velocity for n in chords.notes if n.start < start - 0.05]
    song = [n.velocity for n in chords.notes if n.start >= start]
    assert np.mean(intro) < np.mean(song) - 5
    expression = [(c.time, c.value) for c in chords.control_changes if c.number == 11]
    assert len({v for _, v in expression}) >= 3
    assert expression[0][1] < max(v for _, v in expression)


def test_swing_for_jazz_and_straight_for_rock(simple_time: dict[str, RenderResult]) -> None:
    def offbeat_phase(style: str) -> float:
        beat = 60.0 / simple_time[style].metadata["bpm"]
        drums = _drum_notes(simple_time[style])
        origin = min(n.start for n in drums if n.pitch == 36 or n.pitch == 51)
        hats = [n.start for n in drums if n.pitch in (51, 42)]
        phases = _grid_phase(hats, origin, beat)
        return float(np.median(phases[(phases > 0.3) & (phases < 0.9)]))

    assert offbeat_phase("jazz") > 0.6  # swung eighths land late (2:1 ≈ 0.67)
    assert abs(offbeat_phase("rock") - 0.5) < 0.05


def test_drum_fills_lead_into_each_section(tracks: dict[str, RenderResult]) -> None:
    result = tracks["rock"]
    beat = 60.0 / result.metadata["bpm"]
    bar = result.metadata["beats_per_bar"] * beat
    start = result.metadata["melody_start_s"]
    drums = _drum_notes(result)
    toms = {41, 43, 45, 47, 48, 50}
    # the bar before the melody enters is a fill: toms, which the groove itself never plays
    before = [n for n in drums if start - bar - 0.05 <= n.start < start - 0.05]
    assert any(n.pitch in toms for n in before)
    during = [n for n in drums if start + 0.05 <= n.start < start + bar - 0.05]
    assert not any(n.pitch in toms for n in during)


@pytest.mark.parametrize("style", ["lofi", "edm", "ambient", "jazz"])
def test_loop_is_whole_bars_and_seamless(
    backend: ArrangerBackend, hum: audio.Clip, style: str
) -> None:
    result = backend.render(_request(hum, style, duration=16.0, loop=True))
    meta, rate, x = result.metadata, result.sample_rate, result.audio
    bar_s = meta["beats_per_bar"] * 60.0 / meta["bpm"]
    assert meta["loop"] is True and meta["bars"] >= 1
    assert abs(len(x) / rate - meta["bars"] * bar_s) <= 1.0 / rate + 1e-3
    steps = np.abs(np.diff(x, axis=0))
    seam = np.abs(x[0] - x[-1])
    assert (seam <= np.percentile(steps, 99, axis=0)).all()
    # it is mastered like a track, with no fade at either end
    assert abs(reference_lufs(x, rate) + 14.0) <= 1.0
    assert _true_peak_dbtp(np.concatenate([x, x])) <= -1.0
    head = float(np.sqrt(np.mean(x[: int(0.05 * rate)] ** 2)))
    assert head > 1e-3, "the reverb tail folded into the start is missing"


def test_loop_folds_the_tail_into_the_start() -> None:
    rate, n = 8000, 8000
    tone = np.zeros((n + 4000, 2), dtype=np.float32)
    # a note struck just before the loop's end that rings on past it
    t = np.arange(4010) / rate
    tone[n - 10 :, :] = (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.3))[:, None]
    out = master_stems({"keys": tone}, rate, n / rate, loop=True, target_lufs=-20.0)
    # the overhang lands at the start, where a second time round it would sound
    assert np.abs(out.mix[:3000]).mean() > 10 * np.abs(out.mix[3000 : n - 20]).mean()


def test_default_soundfont_is_musescore_general_when_installed() -> None:
    chosen = GeneratorSettings().soundfont
    installed = [p for p in SOUNDFONTS if p.is_file()]
    assert installed, "scripts/setup.sh installs the SoundFonts"
    assert chosen == installed[0]
    if SOUNDFONTS[0].is_file():
        assert chosen.suffix == ".sf3"


@pytest.mark.parametrize("soundfont", [p for p in SOUNDFONTS if p.is_file()], ids=lambda p: p.name)
def test_every_style_program_and_kit_exists_in_the_soundfont(soundfont: object) -> None:
    from generator.backends.arranger.render import shared_synthesizer

    synth: Synthesizer = shared_synthesizer(soundfont, 44100)  # type: ignore[arg-type]
    for style in STYLES:
        programs = [style.lead, style.alt_lead, style.chord_program, style.bass_program]
        programs += [p for p in (style.pad, style.counter, style.lead_double) if p is not None]
        assert all(synth.has_preset(0, p) for p in programs), style.name
        if style.groove is not None:
            assert synth.has_preset(128, style.groove.kit), style.name
        if soundfont == SOUNDFONTS[0]:  # the variants the styles ask for are MuseScore's
            roles = {"chords": style.chord_program, "bass": style.bass_program}
            for role, bank in style.banks:
                assert synth.has_preset(bank, roles[role]), (style.name, role, bank)


def test_stereo_opus_and_mp3_at_128_kbps_or_more(tracks: dict[str, RenderResult]) -> None:
    import av

    result = tracks["rock"]
    for fmt in ("opus", "mp3"):
        data = audio.encode(result.audio, result.sample_rate, fmt)
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.channels == 2
        kbps = len(data) * 8 / DURATION / 1000
        assert kbps >= 120, (fmt, kbps)  # VBR lands within a few % of the 128/192k target


def test_bank_variants_fall_back_to_bank_0_where_missing() -> None:
    from generator.backends.arranger.render import shared_synthesizer

    inst = pretty_midi.Instrument(program=4, name="chords")
    inst.control_changes.append(pretty_midi.ControlChange(0, 8, 0.0))
    for path in (p for p in SOUNDFONTS if p.is_file()):
        synth = shared_synthesizer(path, 44100)
        expected = 8 if synth.has_preset(8, 4) else 0
        assert synth._bank(inst) == expected
    inst.control_changes[0].value = 99  # no font has bank 99
    assert synth._bank(inst) == 0
