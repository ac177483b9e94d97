"""``humjam generate --backend both`` (issue 14, point 2) as a user runs it: one process renders
the arranger and MusicGen (tiny random model) from the same hum into OUT/<backend>/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import audio

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.musicgen

HUMJAM = Path(sys.executable).parent / "humjam"
DEMO_HUM = Path(__file__).parents[3] / "generator" / "assets" / "demo_hum.ogg"


def _run(tiny_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HUMJAM_MUSICGEN_MODEL": str(tiny_dir),
        "HUMJAM_MUSICGEN_DEVICE": "cpu",
        "HUMJAM_MUSICGEN_OFFLINE": "true",
    }
    return subprocess.run(
        [str(HUMJAM), *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def test_both_renders_each_engine_into_its_own_folder(tmp_path: Path, tiny_dir: Path) -> None:
    done = _run(
        tiny_dir, "generate", str(DEMO_HUM), "--backend", "both", "-d", "5", "-o", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    for backend in ("arranger", "musicgen"):
        track = tmp_path / backend / "track.ogg"
        assert str(track) in done.stdout
        clip = audio.decode(track.read_bytes(), track.name)
        assert abs(clip.duration_s - 5.0) < 0.2
    # the arranger's symbolic extras exist only for it
    assert (tmp_path / "arranger" / "melody.mid").is_file()


def test_both_refuses_takes(tmp_path: Path, tiny_dir: Path) -> None:
    done = _run(tiny_dir, "generate", "--backend", "both", "--takes", "2", "-o", str(tmp_path))
    assert done.returncode != 0 and "one backend" in done.stderr
    assert "Traceback" not in done.stderr and not any(tmp_path.iterdir())
