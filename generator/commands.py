"""``humjam generate | demo | styles``: render tracks from the command line (no Discord, no queue).

Hum file → ``audio.decode`` → ``audio.prepare_hum`` → backend → ``audio.encode``; writes
``track.<fmt>`` (stereo), ``melody.mid`` and ``pianoroll.png`` (and ``stems.zip`` with
``--stems``) and prints their paths. User mistakes (bad audio, refused requests) print one
friendly line and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib import resources
from pathlib import Path

import audio
from generator.backend import RenderRequest, RenderResult
from generator.errors import BackendUnavailable, RenderRefused
from generator.settings import GeneratorSettings

__all__ = ["DEMO_PROMPT", "demo", "generate", "styles"]

log = logging.getLogger(__name__)

DEMO_PROMPT = "lofi hip hop, rhodes and vinyl crackle"
USER_ERROR = 2


def _fail(message: str) -> int:
    print(f"humjam: {message}", file=sys.stderr)
    return USER_ERROR


def _render(
    hum: bytes | None,
    filename: str | None,
    *,
    prompt: str,
    duration: float,
    seed: int,
    style: str | None,
    backend_name: str,
    fmt: str,
    out_dir: Path,
    stems: bool = False,
    loop: bool = False,
) -> int:
    from generator.backends import get_backend

    settings = GeneratorSettings()
    try:
        melody = rate = None
        if hum is not None:
            clip = audio.prepare_hum(audio.decode(hum, filename))
            melody, rate = clip.samples, clip.sample_rate
        request = RenderRequest(
            prompt=prompt,
            duration_s=duration,
            seed=seed,
            melody=melody,
            melody_rate=rate or 0,
            style=style,
            options={"stems": stems, "loop": loop},
        )
        backend = get_backend(backend_name, settings)
        backend.check(request)
        backend.load()
        try:
            started = time.perf_counter()
            result = backend.render(request)
            elapsed = time.perf_counter() - started
        finally:
            backend.close()
    except (audio.AudioRejected, RenderRefused) as exc:
        return _fail(exc.message)
    except BackendUnavailable as exc:
        return _fail(str(exc))
    _write(result, fmt, out_dir, elapsed)
    return 0


def _write(result: RenderResult, fmt: str, out_dir: Path, elapsed: float) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    track = out_dir / f"track.{'ogg' if fmt == 'opus' else fmt}"
    track.write_bytes(audio.encode(result.audio, result.sample_rate, fmt))
    paths.append(track)
    if result.midi is not None:
        (out_dir / "melody.mid").write_bytes(result.midi)
        paths.append(out_dir / "melody.mid")
    if result.piano_roll_png is not None:
        (out_dir / "pianoroll.png").write_bytes(result.piano_roll_png)
        paths.append(out_dir / "pianoroll.png")
    if result.stems:
        from audio.stems import encode_stems, pack_stems

        # one zip on disk: there is no upload limit here
        files = encode_stems(result.stems, result.sample_rate, "", max_bytes=2**31)
        for part in pack_stems(files, max_bytes=2**31):
            (out_dir / part.name).write_bytes(part.data)
            paths.append(out_dir / part.name)
    for path in paths:
        print(path)
    meta = result.metadata
    meter = meta.get("meter") or f"{meta.get('beats_per_bar', 4)}/4"
    shape = f"a loop of {meta.get('bars')} bars, " if meta.get("loop") else ""
    channels = "stereo" if result.channels == 2 else "mono"
    print(
        f"{meta.get('style', '?')} in {meta.get('key', '?')} "
        f"at {meta.get('bpm', 0):.0f} bpm ({meter}), {shape}"
        f"{result.frames / result.sample_rate:.1f} s {channels}, rendered in {elapsed:.1f} s"
    )


def generate(args: argparse.Namespace) -> int:
    """``humjam generate [hum] -p PROMPT -d SECONDS -s SEED -f FMT -o DIR``."""
    data: bytes | None = None
    name: str | None = None
    if args.hum:
        path = Path(args.hum)
        if not path.is_file():
            return _fail(f"no such file: {path}")
        data, name = path.read_bytes(), path.name
    return _render(
        data,
        name,
        prompt=args.prompt,
        duration=args.duration,
        seed=args.seed,
        style=args.style,
        backend_name=args.backend,
        fmt=args.format,
        out_dir=Path(args.out),
        stems=args.stems,
        loop=args.loop,
    )


def demo(args: argparse.Namespace) -> int:
    """``humjam demo``: the bundled hum (Vocadito #14, CC BY 4.0) through the arranger."""
    hum = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    print(f"rendering the bundled hum with prompt {args.prompt!r} ...")
    return _render(
        hum,
        "demo_hum.ogg",
        prompt=args.prompt,
        duration=args.duration,
        seed=args.seed,
        style=None,
        backend_name="arranger",
        fmt=args.format,
        out_dir=Path(args.out),
    )


def styles(args: argparse.Namespace) -> int:
    """``humjam styles``: each style, what it sounds like, and the words that pick it."""
    from generator.backends.arranger.styles import DEFAULT_STYLE, STYLES

    for style in STYLES:
        default = " (default)" if style.name == DEFAULT_STYLE else ""
        print(f"{style.name}{default}: {style.description}")
        print(f"    words: {', '.join(style.triggers + style.extra_triggers)}")
        print(f"    tempo: {style.bpm_range[0]:.0f}-{style.bpm_range[1]:.0f} bpm")
    print(
        '\nAlso understood: "in D minor", "90 bpm", "in 3/4", "waltz", "no drums", instrument words'
    )
    print('(rhodes, strings, flute, sax, harp, ...), and "vinyl"/"crackle".')
    return 0
