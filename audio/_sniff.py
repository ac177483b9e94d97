"""Magic-byte sniffing: decide what a file is from its first bytes, before FFmpeg sees it.

FFmpeg will happily "decode" many things that are not sound, so we only hand it files whose
signature is an audio container we support, and name the common impostors (a PNG or ZIP renamed
``.ogg``) so the user hears what went wrong.
"""

from __future__ import annotations

import struct

from audio.errors import AudioRejected

# How many leading bytes the sniffers need.
HEAD_BYTES = 64

SUPPORTED_HINT = "send a voice message or an audio file (ogg, opus, m4a, mp3, webm, wav, flac)"

# Signatures of things people send by mistake, so the refusal can say what the file looks like.
_IMPOSTORS: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF8", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"AVI ", 8, "an AVI video"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"PK\x05\x06", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!", 0, "a RAR archive"),
    (b"\x7fELF", 0, "a program"),
    (b"MZ", 0, "a program"),
    (b"MThd", 0, "a MIDI file (notes, not sound)"),
)

# ISO-BMFF (mp4/m4a/mov/3gp) files start with a box whose type is one of these.
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})


def sniff(head: bytes) -> str:
    """Return a short container name for ``head`` (the file's first bytes).

    Raises ``AudioRejected("not_audio")`` for anything that is not a supported audio container.
    """
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"caff":
        return "caf"
    if head[4:8] in _MP4_BOXES:
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML; browsers' MediaRecorder writes the "webm" doctype within the first few bytes.
        return "webm" if b"webm" in head else "matroska"
    if head[:3] == b"ID3":
        # ID3v2 tags precede MP3 (and occasionally ADTS AAC) streams.
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync; layer bits 00 mean ADTS AAC.
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    raise AudioRejected("not_audio", f"That file looks like {_describe(head)}; {SUPPORTED_HINT}.")


def _describe(head: bytes) -> str:
    for magic, offset, name in _IMPOSTORS:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head.lstrip(b"\xef\xbb\xbf")):
        return "text"
    return "something other than audio"


def wav_claimed_duration_s(data: bytes) -> float | None:
    """Duration a RIFF/WAVE header claims for its data chunk, or None if it doesn't say.

    FFmpeg quietly clamps a WAV's length to the bytes present, so a header claiming ten hours
    would slip past it; we read the claim ourselves. Streaming writers put 0 or 0xFFFFFFFF in the
    size field ("unknown"), which is not a claim.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    bytes_per_second = 0
    # Walk the chunk list; headers sit near the front, so give up after 64 KiB.
    while pos + 8 <= min(len(data), 1 << 16):
        chunk_id = data[pos : pos + 4]
        chunk_size = int(struct.unpack_from("<I", data, pos + 4)[0])
        if chunk_id == b"fmt " and chunk_size >= 16 and pos + 24 <= len(data):
            bytes_per_second = int(struct.unpack_from("<I", data, pos + 16)[0])
        elif chunk_id == b"data":
            if chunk_size in (0, 0xFFFFFFFF) or bytes_per_second <= 0:
                return None
            return chunk_size / bytes_per_second
        pos += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    return None
