"""``humjam demo | generate | styles`` as a user runs them: real processes, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import audio
from generator.backends.arranger.styles import STYLES

HUMJAM = Path(sys.executable).parent / "humjam"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUMJAM), *args], capture_output=True, text=True, timeout=240, check=False
    )


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    done = _run("demo", "-o", str(tmp_path), "-d", "12")
    assert done.returncode == 0, done.stderr
    track, midi, png = tmp_path / "track.ogg", tmp_path / "melody.mid", tmp_path / "pianoroll.png"
    for path in (track, midi, png):
        assert str(path) in done.stdout
    clip = audio.decode(track.read_bytes(), "track.ogg")
    assert abs(clip.duration_s - 12.0) < 0.1
    assert midi.read_bytes().startswith(b"MThd")
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert "bpm" in done.stdout.splitlines()[-1]


def test_generate_refuses_non_audio_without_a_traceback(tmp_path: Path) -> None:
    fake = tmp_path / "hum.ogg"
    fake.write_bytes(b"PK\x03\x04" + b"\x00" * 2000)  # a ZIP renamed .ogg
    done = _run("generate", str(fake), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("humjam:")


def test_styles_lists_every_style() -> None:
    done = _run("styles")
    assert done.returncode == 0
    for style in STYLES:
        assert style.name in done.stdout


def test_listen_prints_the_reading_and_writes_midi_and_piano_roll(tmp_path: Path) -> None:
    hum = tmp_path / "hum.wav"
    hum.write_bytes(
        (Path(__file__).parents[1] / "data" / "vocadito" / "vocadito_14.wav").read_bytes()
    )
    done = _run("listen", str(hum), "-p", "waltz at 93 bpm", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = {line.split(":")[0].strip(): line for line in done.stdout.splitlines() if ":" in line}
    assert "93.0 bpm" in lines["tempo"] and "3/4" in lines["metre"]
    assert "next best" in lines["key"]
    assert (tmp_path / "out" / "melody.mid").read_bytes().startswith(b"MThd")
    assert (tmp_path / "out" / "pianoroll.png").read_bytes().startswith(PNG_MAGIC)
    assert not list(tmp_path.glob("out/track.*"))  # nothing rendered


def test_listen_refuses_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    done = _run("listen", str(tmp_path / "nope.ogg"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_countin_writes_one_bar_of_click_over_the_tonic_chord(tmp_path: Path) -> None:
    import librosa
    import numpy as np

    from audio.countin import TAIL_S

    done = _run(
        "countin", "--key", "D minor", "--bpm", "100", "--meter", "3/4", "-o", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.splitlines()[0])
    assert path.parent == tmp_path and path.is_file()
    summary = done.stdout.splitlines()[1]
    assert "D minor" in summary and "100 bpm" in summary and "3/4" in summary
    clip = audio.decode(path.read_bytes(), path.name)
    # one 3/4 bar at 100 bpm (1.8 s), then the chord's tail where the member comes in
    assert abs(clip.duration_s - (1.8 + TAIL_S)) < 0.05
    mono = clip.samples if clip.samples.ndim == 1 else clip.samples.mean(axis=1)
    chroma = librosa.feature.chroma_cqt(y=np.asarray(mono), sr=clip.sample_rate)
    assert int(np.argmax(chroma.sum(axis=1))) == 2  # D: the home note is the loudest class


def test_countin_refuses_a_bad_key_without_a_traceback(tmp_path: Path) -> None:
    done = _run("countin", "--key", "H sharp", "--bpm", "100", "-o", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not a key" in done.stderr and not list(tmp_path.iterdir())


def test_generate_continue_extends_the_parent_at_a_bar_line(tmp_path: Path) -> None:
    import json

    import numpy as np

    from generator.continuation import bar_seconds
    from tests.generator.hum_synth import RATE, sing

    first, second = tmp_path / "first.wav", tmp_path / "next.wav"
    d_major = [62, 64, 66, 67, 69, 67, 66, 64, 62, 66, 69, 74]
    f_major_fast = [65, 67, 69, 70, 72, 70, 69, 67, 65, 69]  # another key, another tempo
    first.write_bytes(audio.encode(sing(d_major, [1.0] * 12, 96), RATE, "wav"))
    second.write_bytes(audio.encode(sing(f_major_fast, [1.0] * 10, 132), RATE, "wav"))
    parent_dir, cont_dir = tmp_path / "parent", tmp_path / "cont"
    done = _run("generate", str(first), "-p", "lofi, rhodes", "-d", "12", "-s", "5",
                "-f", "flac", "-o", str(parent_dir))  # fmt: skip
    assert done.returncode == 0, done.stderr
    parent_meta = json.loads((parent_dir / "track.json").read_text())
    assert parent_meta["seed"] == 5 and parent_meta["prompt"] == "lofi, rhodes"

    done = _run("generate", str(second), "--continue", str(parent_dir), "-d", "8",
                "-f", "flac", "-o", str(cont_dir))  # fmt: skip
    assert done.returncode == 0, done.stderr
    meta = json.loads((cont_dir / "track.json").read_text())
    for field in ("key", "bpm", "beats_per_bar", "style", "seed", "prompt"):
        assert meta[field] == parent_meta[field], field
    assert meta["hum_key"] != meta["key"]  # the new hum was heard elsewhere, moved into D
    bar = bar_seconds(parent_meta)
    assert bar is not None
    bars = meta["join_s"] / bar
    assert bars >= 1 and abs(bars - round(bars)) < 2e-3  # joined at a bar line
    head = audio.decode((parent_dir / "track.flac").read_bytes(), "track.flac", audio.TRACK_LIMITS)
    track = audio.decode((cont_dir / "track.flac").read_bytes(), "track.flac", audio.TRACK_LIMITS)
    assert track.duration_s > head.duration_s and track.duration_s > meta["join_s"] + 4.0
    # up to the join the continuation *is* the parent track
    n = int((meta["join_s"] - 0.1) * track.sample_rate)
    assert np.allclose(track.samples[:n], head.samples[:n], atol=2e-3)


def test_generate_continue_refuses_a_folder_without_a_track(tmp_path: Path) -> None:
    hum = tmp_path / "hum.wav"
    hum.write_bytes(
        (Path(__file__).parents[1] / "data" / "vocadito" / "vocadito_14.wav").read_bytes()
    )
    done = _run("generate", str(hum), "--continue", str(tmp_path), "-o", str(tmp_path / "o"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no track to continue" in done.stderr
