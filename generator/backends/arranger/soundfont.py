"""An SF3 SoundFont, decompressed once into a cached SF2 so that workers start fast.

SF3 (MuseScore General) stores each sample as an Ogg Vorbis stream; FluidSynth decodes them
all at load: ~8 s of CPU for MuseScore General, in every worker process. Decoding them once
into a plain SF2 (16-bit PCM, the same decoder: libsndfile) and loading that takes a fraction
of a second. The SF2 is written next to nothing it doesn't own: the user's cache directory
(``HUMJAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/humjam``, else ``~/.cache/humjam``), named after
the source's size and mtime, written atomically (a half-written file is never loaded).

The format change (SoundFont 2.04 spec; the SF3 extension as FluidSynth reads it): in SF3 a
compressed sample's ``start``/``end`` are byte offsets of its Vorbis stream (``end`` inclusive)
and its loop points are relative to the decoded sample; in SF2 all four are sample indices into
the sample chunk, each sample followed by 46 zero samples. Everything else is copied as is.

``python -m generator.backends.arranger.soundfont [SF3]`` builds the cache (scripts/setup.sh
and the Dockerfile run it, so the first job doesn't pay for it).
"""

from __future__ import annotations

import io
import logging
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["cache_dir", "cached_sf2", "sf3_to_sf2"]

log = logging.getLogger(__name__)

_VORBIS = 0x10
_SHDR = struct.Struct("<20sIIIIIBbHH")
_PADDING = 46  # zero samples after each sample (SoundFont 2.04, 6.1)


def cache_dir() -> Path:
    base = os.environ.get("HUMJAM_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return (root if os.environ.get("HUMJAM_CACHE_DIR") else root / "humjam") / "soundfonts"


def cached_sf2(path: Path) -> Path:
    """The SF2 made from ``path`` (an SF3), built on first use; ``path`` itself if it isn't an
    SF3 or the cache can't be written (FluidSynth then decodes it at load, as before)."""
    path = Path(path)
    if path.suffix.lower() != ".sf3":
        return path
    stat = path.stat()
    target = cache_dir() / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}.sf2"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        data = sf3_to_sf2(path.read_bytes())
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as tmp:
            tmp.write(data)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, target)  # atomic: another worker may be building it too
        log.info("decoded %s into %s in %.1f s", path, target, time.perf_counter() - started)
        return target
    except (OSError, ValueError) as exc:
        log.warning("could not cache %s as SF2 (%s); loading the SF3 directly", path, exc)
        return path


def _chunks(data: bytes, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """(id, offset of the body, size) of the RIFF chunks between ``start`` and ``stop``."""
    out = []
    pos = start
    while pos + 8 <= stop:
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        out.append((cid, pos + 8, size))
        pos += 8 + size + (size & 1)
    return out


def _lists(data: bytes) -> dict[bytes, dict[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError("not a SoundFont (RIFF sfbk)")
    lists: dict[bytes, dict[bytes, bytes]] = {}
    for cid, body, size in _chunks(data, 12, len(data)):
        if cid == b"LIST":
            kind = data[body : body + 4]
            lists[kind] = {c: data[b : b + s] for c, b, s in _chunks(data, body + 4, body + size)}
    return lists


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _list(kind: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(_chunk(c, b) for c, b in chunks))


def _decode(stream: bytes) -> np.ndarray:
    import soundfile as sf

    samples, _ = sf.read(io.BytesIO(stream), dtype="int16", always_2d=True)
    return np.asarray(samples[:, 0])


def sf3_to_sf2(data: bytes) -> bytes:
    """The SF2 equivalent of an SF3 file's bytes (see the module docstring)."""
    lists = _lists(data)
    info, sdta, pdta = lists.get(b"INFO"), lists.get(b"sdta"), lists.get(b"pdta")
    if info is None or sdta is None or pdta is None or b"shdr" not in pdta:
        raise ValueError("SoundFont without INFO, sdta or pdta")
    smpl = sdta.get(b"smpl", b"")
    headers = pdta[b"shdr"]
    records = [_SHDR.unpack_from(headers, i) for i in range(0, len(headers), _SHDR.size)]
    pieces: list[bytes] = []
    written = 0
    rewritten = []
    for name, start, end, loop_start, loop_end, rate, pitch, correction, link, kind in records[:-1]:
        if kind & _VORBIS:
            pcm = _decode(smpl[start : end + 1])
            loop_start, loop_end = written + loop_start, written + loop_end
            kind &= ~_VORBIS
        else:
            pcm = np.frombuffer(smpl[2 * start : 2 * end], dtype="<i2")
            loop_start, loop_end = written + loop_start - start, written + loop_end - start
        new_start, new_end = written, written + len(pcm)
        pieces.append(pcm.astype("<i2").tobytes() + b"\0\0" * _PADDING)
        written = new_end + _PADDING
        rewritten.append(
            _SHDR.pack(name, new_start, new_end, loop_start, loop_end, rate, pitch, correction,
                       link, kind)
        )  # fmt: skip
    rewritten.append(_SHDR.pack(*records[-1]))  # the terminal "EOS" record
    info = {**info, b"ifil": struct.pack("<HH", 2, 4)}
    body = (
        b"sfbk"
        + _list(b"INFO", list(info.items()))
        + _list(b"sdta", [(b"smpl", b"".join(pieces))])
        + _list(b"pdta", [(c, b"".join(rewritten) if c == b"shdr" else b) for c, b in pdta.items()])
    )
    return _chunk(b"RIFF", body)


def main(argv: list[str]) -> int:
    from generator.settings import SOUNDFONTS

    sources = [Path(a) for a in argv] or [p for p in SOUNDFONTS if p.suffix == ".sf3"]
    for source in sources:
        if source.is_file():
            print(cached_sf2(source))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main(sys.argv[1:]))
