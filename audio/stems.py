"""Stems as files: one stereo FLAC per instrument group, packed into zips that fit an upload.

Stems are lossless (16-bit FLAC) so that they sum back to the mix; a zip is stored, not
deflated (FLAC is already compressed). When everything fits ``max_bytes`` there is one
``stems.zip``; otherwise the stems are split over ``stems-1of3.zip``, ... each within the limit.
A single stem too big for any zip on its own is encoded lossy instead (Opus, down its bitrate
ladder), and its entry says so by its extension.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audio.encoding import encode, encode_within

__all__ = ["StemFile", "encode_stems", "pack_stems", "read_stems"]

# Local header + central directory entry + a name: what a stored member adds beyond its data.
_ZIP_OVERHEAD = 200
_ZIP_END = 100


@dataclass(frozen=True)
class StemFile:
    name: str  # e.g. "humjam-42-drums.flac"
    data: bytes


def encode_stems(
    stems: Mapping[str, npt.NDArray[np.floating]], sample_rate: int, prefix: str, max_bytes: int
) -> list[StemFile]:
    """One file per stem, in the order given: FLAC, or Opus if the FLAC alone can't fit."""
    files = []
    room = max_bytes - _ZIP_OVERHEAD - _ZIP_END
    for name, samples in stems.items():
        data = encode(samples, sample_rate, "flac")
        ext = "flac"
        if len(data) > room:
            data, ext = encode_within(samples, sample_rate, room, "opus")
        files.append(StemFile(f"{prefix}{name}.{ext}", data))
    return files


def pack_stems(files: list[StemFile], max_bytes: int, basename: str = "stems") -> list[StemFile]:
    """Zip ``files`` into as few archives as fit ``max_bytes`` each (first fit, in order)."""
    groups: list[list[StemFile]] = []
    sizes: list[int] = []
    for f in files:
        need = len(f.data) + _ZIP_OVERHEAD + len(f.name)
        for i, used in enumerate(sizes):
            if used + need <= max_bytes:
                groups[i].append(f)
                sizes[i] += need
                break
        else:
            groups.append([f])
            sizes.append(_ZIP_END + need)
    out = []
    for i, group in enumerate(groups):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
            for f in group:
                zf.writestr(f.name, f.data)
        name = f"{basename}.zip" if len(groups) == 1 else f"{basename}-{i + 1}of{len(groups)}.zip"
        out.append(StemFile(name, buf.getvalue()))
    return out


def read_stems(zips: list[bytes]) -> dict[str, bytes]:
    """Every member of the given stem zips, by name (what a user unpacks)."""
    found: dict[str, bytes] = {}
    for data in zips:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                found[name] = zf.read(name)
    return found
