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
