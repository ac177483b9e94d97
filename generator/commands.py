"""``humjam generate | demo | styles``: render tracks from the command line (no Discord, no queue).

Hum file → ``audio.decode`` → ``audio.prepare_hum`` → backend → ``audio.encode``; writes
``track.<fmt>`` (stereo), ``track.json`` (key, tempo, metre, style, prompt, seed),
``melody.mid`` and ``pianoroll.png`` (and ``stems.zip`` with ``--stems``) and prints their
paths. ``--continue DIR`` makes the hum the next part of the track in DIR. User mistakes (bad
audio, refused requests) print one friendly line and exit with status 2.

Start-up is part of the job: this module imports nothing heavy at the top, says what it is about
to do on stderr before the audio and DSP stack loads, and reports each render stage as it
starts (``humjam generate`` shows its first line within a second).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from humjam.words import tempo_octave

if TYPE_CHECKING:
    from generator.backend import Backend, Progress, RenderRequest, RenderResult
    from generator.settings import GeneratorSettings
    from generator.takes import TakesResult

BOTH_BACKENDS = ("arranger", "musicgen")  # `--backend both`, in this order

__all__ = ["DEMO_PROMPT", "demo", "generate", "styles"]

log = logging.getLogger(__name__)

DEMO_PROMPT = "lofi hip hop, rhodes and vinyl crackle"
TRACK_JSON = "track.json"  # the result metadata next to the track: what --continue reads
USER_ERROR = 2


def _fail(message: str) -> int:
    print(f"humjam: {message}", file=sys.stderr)
    return USER_ERROR


def _say(message: str) -> None:
    """A progress line on stderr (stdout carries only the written paths and the summary)."""
    print(f"humjam: {message}", file=sys.stderr, flush=True)


def _stage_printer() -> Progress:
    """A backend progress callback that prints each new stage once."""
    seen: set[str] = set()

    def progress(fraction: float, stage: str) -> None:
        if stage not in seen:
            seen.add(stage)
            _say(f"{stage} …")

    return progress


def _settings() -> GeneratorSettings:
    """The generator's settings for a command that renders and exits: SoundFont samples are
    read as a track first plays them (a few presets: ~0.15 s) instead of all ~490 MB up front
    (~0.4 s), which a long-lived worker prefers."""
    from generator.settings import GeneratorSettings

    return GeneratorSettings(soundfont_on_demand=True)


def _timed(
    backend: Backend, render: Callable[[Progress], RenderResult]
) -> tuple[RenderResult, float]:
    """``render`` on the loaded ``backend`` (closed after), with the seconds it took."""
    backend.load()
    try:
        started = time.perf_counter()
        result = render(_stage_printer())
        return result, time.perf_counter() - started
    finally:
        backend.close()


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
    takes: int = 1,
    stems: bool = False,
    loop: bool = False,
) -> int:
    import audio
    from generator.backend import RenderRequest
    from generator.backends import get_backend
    from generator.errors import BackendUnavailable, RenderRefused

    settings = _settings()
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
        result: RenderResult
        if takes > 1:  # issue 14: several takes from one hearing, scored, best first
            from generator.takes import render_takes

            result, elapsed = _timed(backend, lambda p: render_takes(backend, request, takes, p))
        else:
            result, elapsed = _timed(backend, lambda p: backend.render(request, p))
    except (audio.AudioRejected, RenderRefused) as exc:
        return _fail(exc.message)
    except BackendUnavailable as exc:
        return _fail(str(exc))
    from generator.takes import TakesResult

    if isinstance(result, TakesResult):
        _write_takes(result, fmt, out_dir, elapsed, request)
    else:
        _write(result, fmt, out_dir, elapsed, request)
    return 0


def _continue(args: argparse.Namespace, hum: bytes, filename: str) -> int:
    """``humjam generate NEXT_HUM --continue PARENT_DIR``: the new hum as the next part of the
    track ``humjam generate`` wrote into PARENT_DIR, in its key, tempo, metre, style and seed,
    joined at a bar line (``generator.continuation``, as the worker's ``continue`` jobs)."""
    import json

    import audio
    from generator.backends import get_backend
    from generator.continuation import continuation_request, render_continuation
    from generator.errors import BackendUnavailable, RenderRefused

    parent_dir, out_dir = Path(args.continue_from), Path(args.out)
    try:
        meta = json.loads((parent_dir / TRACK_JSON).read_text())
        track = parent_dir / str(meta["track"])
        parent = audio.decode(track.read_bytes(), track.name, audio.TRACK_LIMITS)
    except (OSError, ValueError, KeyError, TypeError):
        return _fail(
            f"{parent_dir} holds no track to continue: point --continue at a folder that "
            f"`humjam generate` wrote (it has {TRACK_JSON} and the track)"
        )
    except audio.AudioRejected as exc:
        return _fail(f"{parent_dir}: {exc.message}")
    if out_dir.resolve() == parent_dir.resolve():
        return _fail(
            "write the continued track to another folder (-o): it would replace its parent"
        )
    seed = int(meta.get("seed", 0)) if args.seed is None else args.seed
    prompt = args.prompt if args.prompt is not None else str(meta.get("prompt") or DEMO_PROMPT)
    _say(f"continuing {track} with {filename} ({args.duration:g} s more) …")
    try:
        clip = audio.prepare_hum(audio.decode(hum, filename))
        backend = get_backend(args.backend, _settings())
        request = continuation_request(
            backend,
            prompt=prompt,
            duration_s=args.duration,
            seed=seed,
            melody=clip.samples,
            melody_rate=clip.sample_rate,
            parent_meta=meta,
            parent_audio=parent.samples,
            parent_rate=parent.sample_rate,
            params={"style": args.style} if args.style else None,
        )
        result, elapsed = _timed(backend, lambda p: render_continuation(backend, request, p))
    except (audio.AudioRejected, RenderRefused) as exc:
        return _fail(exc.message)
    except BackendUnavailable as exc:
        return _fail(str(exc))
    result = dataclasses.replace(
        result, metadata={**result.metadata, "continued_from": str(parent_dir)}
    )
    _write(result, args.format, out_dir, elapsed, request)
    return 0


def _write(
    result: RenderResult, fmt: str, out_dir: Path, elapsed: float, request: RenderRequest
) -> None:
    import audio

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    track = out_dir / f"track.{'ogg' if fmt == 'opus' else fmt}"
    track.write_bytes(audio.encode(result.audio, result.sample_rate, fmt))
    paths.append(track)
    _write_track_json(out_dir / TRACK_JSON, track, result, request)
    paths.append(out_dir / TRACK_JSON)
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
    reading = "; ".join(filter(None, (meter, tempo_octave(meta))))
    shape = f"a loop of {meta.get('bars')} bars, " if meta.get("loop") else ""
    channels = "stereo" if result.channels == 2 else "mono"
    print(
        f"{meta.get('style', '?')} in {meta.get('key', '?')} "
        f"at {meta.get('bpm', 0):.0f} bpm ({reading}), {shape}"
        f"{result.frames / result.sample_rate:.1f} s {channels}, rendered in {elapsed:.1f} s"
    )


def _write_takes(
    result: TakesResult, fmt: str, out_dir: Path, elapsed: float, request: RenderRequest
) -> None:
    """Each take in ``out_dir/take<N>/`` (N = rank, 1 follows the hum best) and a score table."""
    for take in result.takes:
        print(f"take {take.number}: seed {take.seed}, follows your hum {_percent(take.score)}")
        take_request = dataclasses.replace(request, seed=take.seed)
        _write(take.result, fmt, out_dir / f"take{take.number}", elapsed, take_request)


def _write_track_json(
    path: Path, track: Path, result: RenderResult, request: RenderRequest
) -> None:
    """What ``humjam generate --continue`` needs to carry on: the result metadata (key, bpm,
    metre, style, ...) and the request's prompt and seed, next to the track."""
    import json

    facts = {
        **result.metadata,
        "track": track.name,
        "prompt": request.prompt,
        "seed": request.seed,
        "duration": round(result.frames / result.sample_rate, 3),
    }
    path.write_text(json.dumps(facts, indent=2, default=str) + "\n")


def _percent(score: float | None) -> str:
    return "(not scored: no hum)" if score is None else f"{score:.1%}"


def generate(args: argparse.Namespace) -> int:
    """``humjam generate [hum] -p PROMPT -d SECONDS -s SEED -f FMT -o DIR``."""
    data: bytes | None = None
    name: str | None = None
    if args.hum:
        path = Path(args.hum)
        if not path.is_file():
            return _fail(f"no such file: {path}")
        data, name = path.read_bytes(), path.name
    if args.continue_from is not None:
        if data is None or name is None:
            return _fail(
                "--continue needs the hum that comes next: humjam generate HUM --continue DIR"
            )
        if args.backend == "both" or args.takes > 1 or args.stems or args.loop:
            return _fail(
                "--continue makes one track: leave out --backend both, --takes, --stems, --loop"
            )
        return _continue(args, data, name)
    if args.prompt is None:
        args.prompt = DEMO_PROMPT
    if args.seed is None:
        args.seed = 0
    source = f"from {name}" if name else "from the prompt alone"
    if args.backend == "both":
        if args.takes > 1:
            return _fail("--takes needs one backend: pick arranger or musicgen")
        # issue 14: both engines side by side, each in OUT/<backend>/; one failing engine
        # doesn't throw the other's track away
        status = 0
        for backend in BOTH_BACKENDS:
            _say(f"making a {args.duration:g} s track {source} with the {backend} …")
            status |= _render(
                data, name, prompt=args.prompt, duration=args.duration, seed=args.seed,
                style=args.style, backend_name=backend, fmt=args.format,
                out_dir=Path(args.out) / backend, stems=args.stems, loop=args.loop,
            )  # fmt: skip
        return status
    _say(f"making a {args.duration:g} s track {source} with the {args.backend} …")
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
        takes=args.takes,
        stems=args.stems,
        loop=args.loop,
    )


def demo(args: argparse.Namespace) -> int:
    """``humjam demo``: the bundled hum (Vocadito #14, CC BY 4.0) through the arranger."""
    from importlib import resources

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
