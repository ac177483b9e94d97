"""probe() and decode(): every upload format decodes, and every bad upload is refused by code."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

import audio
from audio import AudioRejected, IntakeLimits
from tests.audio.synth import (
    HUM_FILE_NAMES,
    HUM_S,
    NOTES_HZ,
    HumFile,
    av_encode,
    note_pitches,
    sf_encode,
    synth_hum,
)

# AAC adds up to one 1024-sample frame of padding; everything else should be within a few ms.
DURATION_TOLERANCE_S = 0.05


@pytest.mark.parametrize("name", HUM_FILE_NAMES)
def test_probe_reads_headers(hum_files: dict[str, HumFile], name: str) -> None:
    f = hum_files[name]
    info = audio.probe(f.data, name)
    assert info.container == f.container
    assert info.codec.startswith(f.codec)  # FFmpeg calls its float MP3 decoder "mp3float"
    assert info.sample_rate == f.sample_rate
    assert info.channels == f.channels
    assert info.size_bytes == len(f.data)
    assert info.duration_s == pytest.approx(HUM_S, abs=DURATION_TOLERANCE_S)


@pytest.mark.parametrize("name", HUM_FILE_NAMES)
def test_decode_keeps_duration_and_pitch(hum_files: dict[str, HumFile], name: str) -> None:
    f = hum_files[name]
    clip = audio.decode(f.data, name)
    assert clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1
    assert clip.sample_rate == f.sample_rate
    assert clip.duration_s == pytest.approx(HUM_S, abs=DURATION_TOLERANCE_S)
    assert np.isfinite(clip.samples).all()
    # Within a sixth of a semitone (1%) of each sung note.
    for heard, sung in zip(note_pitches(clip.samples, clip.sample_rate), NOTES_HZ, strict=True):
        assert heard == pytest.approx(sung, rel=0.01)


def test_decode_downmixes_stereo_by_averaging() -> None:
    left = synth_hum(44100)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    clip = audio.decode(sf_encode(stereo, 44100, "WAV", "FLOAT"))
    np.testing.assert_allclose(clip.samples, left / 2, atol=1e-6)


DEFAULTS = IntakeLimits()


def _reject(data: bytes, limits: IntakeLimits = DEFAULTS, *, probe: bool = False) -> AudioRejected:
    with pytest.raises(AudioRejected) as info:
        (audio.probe if probe else audio.decode)(data, "upload.ogg", limits)
    return info.value


def test_zero_bytes_is_too_short() -> None:
    err = _reject(b"", probe=True)
    assert err.code == "too_short"
    assert "0 bytes" in err.message and "0.5 s" in err.message


def test_too_short_clip() -> None:
    err = _reject(sf_encode(synth_hum(16000)[:3200], 16000, "WAV"), probe=True)  # 0.2 s
    assert err.code == "too_short"
    assert "0.2 s" in err.message and "0.5 s" in err.message


def test_200_mb_upload_is_too_large_without_reading_it() -> None:
    header = sf_encode(np.zeros(16000, dtype=np.float32), 16000, "WAV")[:44]
    data = header + bytes(200 * 1024 * 1024)
    err = _reject(data, probe=True)
    assert err.code == "too_large"
    assert "200 MB" in err.message and "25 MB" in err.message


def test_check_size_refuses_before_download() -> None:
    audio.check_size(1024)
    with pytest.raises(AudioRejected) as info:
        audio.check_size(42 * 1024 * 1024)
    assert info.value.code == "too_large"
    assert "42 MB" in info.value.message and "25 MB" in info.value.message
    with pytest.raises(AudioRejected) as info:
        audio.check_size(0)
    assert info.value.code == "too_short"


def test_size_limit_is_configurable(hum_files: dict[str, HumFile]) -> None:
    data = hum_files["take.wav"].data  # ~0.4 MB
    err = _reject(data, IntakeLimits(max_bytes=100_000), probe=True)
    assert err.code == "too_large"
    assert "98 KB" in err.message  # 100 000 bytes, as the limit


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        (b"PK\x03\x04" + bytes(200), "ZIP archive"),
        (b"%PDF-1.7\n" + bytes(200), "PDF document"),
        (b"hello, this is not a song at all\n" * 10, "text"),
        (bytes(range(256)) * 4, "something other than audio"),
    ],
    ids=["png", "zip", "pdf", "text", "binary"],
)
def test_non_audio_renamed_ogg_is_refused(data: bytes, looks_like: str) -> None:
    err = _reject(data, probe=True)
    assert err.code == "not_audio"
    assert looks_like in err.message
    # The "limit" here is what we accept.
    assert "ogg" in err.message and "m4a" in err.message and "wav" in err.message


def test_real_zip_is_refused() -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hum.ogg", b"OggS" + bytes(100))
    err = _reject(buf.getvalue())
    assert err.code == "not_audio"
    assert "ZIP" in err.message


def _wav_claiming(seconds: float, rate: int = 16000) -> bytes:
    """One real second of 16-bit mono audio under a header that claims ``seconds``."""
    data = bytearray(sf_encode(synth_hum(rate)[:rate], rate, "WAV"))
    claimed = int(seconds * rate * 2)
    struct.pack_into("<I", data, data.find(b"data") + 4, claimed)
    struct.pack_into("<I", data, 4, claimed + 36)
    return bytes(data)


def test_ten_hour_wav_header_is_too_long_before_decoding() -> None:
    err = _reject(_wav_claiming(10 * 3600), probe=True)
    assert err.code == "too_long"
    assert "10 hours" in err.message and "60 s" in err.message


def test_42_minute_clip_message() -> None:
    err = _reject(_wav_claiming(42 * 60), probe=True)
    assert err.code == "too_long"
    assert "42 minutes long; hums up to 60 s work best" in err.message


def _flac_with_total_samples(data: bytes, total: int) -> bytes:
    """Rewrite the 36-bit total-samples field of a FLAC STREAMINFO block."""
    out = bytearray(data)
    assert out[:4] == b"fLaC"
    offset = 8 + 10  # "fLaC", block header, then min/max block and frame sizes
    packed = int.from_bytes(out[offset : offset + 8], "big")
    packed = (packed & ~((1 << 36) - 1)) | total
    out[offset : offset + 8] = packed.to_bytes(8, "big")
    return bytes(out)


def _long_flac(seconds: float, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return sf_encode((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, "FLAC")


def test_flac_header_claiming_ten_hours_is_too_long() -> None:
    data = _flac_with_total_samples(_long_flac(2), 10 * 3600 * 8000)
    err = _reject(data, probe=True)
    assert err.code == "too_long"
    assert "10 hours" in err.message


def test_decompression_bomb_with_lying_header_stops_at_the_limit() -> None:
    # 120 s of audio whose header says 5 s: probe believes it, the streaming decode must not.
    data = _flac_with_total_samples(_long_flac(120), 5 * 8000)
    assert audio.probe(data).duration_s == pytest.approx(5.0)
    err = _reject(data)
    assert err.code == "too_long"
    assert "60 s" in err.message and "said 5 s" in err.message


def test_decoded_sample_budget_is_enforced(hum_files: dict[str, HumFile]) -> None:
    limits = IntakeLimits(max_decoded_samples=48000)  # 1 s of mono at 48 kHz
    err = _reject(hum_files["voice-message.ogg"].data, limits, probe=True)
    assert err.code == "too_long"


def test_duration_unknown_in_headers_is_measured_from_packets() -> None:
    data = _flac_with_total_samples(_long_flac(3), 0)  # 0 = "unknown" in FLAC
    assert audio.probe(data).duration_s == pytest.approx(3.0, abs=0.2)
    too_long = _flac_with_total_samples(_long_flac(70), 0)
    assert _reject(too_long, probe=True).code == "too_long"


def test_probe_does_not_decode() -> None:
    # A valid FLAC header followed by 20 MB of garbage: headers are fine, the frames are not.
    header = _long_flac(1)[: 8 + 34]  # "fLaC" + STREAMINFO
    header = bytes([*header[:4], header[4] | 0x80, *header[5:]])  # mark STREAMINFO as last block
    garbage = np.random.default_rng(0).integers(0, 256, 20 * 1024 * 1024, dtype=np.uint8)
    data = _flac_with_total_samples(header, 10 * 8000) + garbage.tobytes()
    info = audio.probe(data)
    assert info.duration_s == pytest.approx(10.0)
    err = _reject(data)
    assert err.code == "truncated"


def test_truncated_file_decodes_what_is_there(hum_files: dict[str, HumFile]) -> None:
    data = hum_files["voice-message.ogg"].data
    clip = audio.decode(data[: len(data) // 2])
    assert 0.5 < clip.duration_s < HUM_S * 0.75
    assert note_pitches(clip.samples, clip.sample_rate)[0] == pytest.approx(NOTES_HZ[0], rel=0.01)


def test_truncated_wav_below_minimum_is_refused() -> None:
    data = _wav_claiming(3)[: 44 + 1600]  # header says 3 s, 0.05 s present
    err = _reject(data)
    assert err.code == "truncated"
    assert "0.5 s" in err.message


def test_truncated_m4a_without_index_is_refused(hum_files: dict[str, HumFile]) -> None:
    data = hum_files["memo.m4a"].data  # FFmpeg writes the moov index last
    err = _reject(data[: len(data) // 2])
    assert err.code == "truncated"
    assert "cut off" in err.message


def test_nan_samples_are_refused() -> None:
    x = synth_hum(16000)
    x[5000:5100] = np.nan
    err = _reject(sf_encode(x, 16000, "WAV", "FLOAT"))
    assert err.code == "bad_samples"
    assert "finite" in err.message


def test_inf_samples_are_refused() -> None:
    x = synth_hum(16000).astype(np.float64)
    x[-10] = np.inf
    assert _reject(sf_encode(x, 16000, "WAV", "DOUBLE")).code == "bad_samples"


def test_too_many_channels_is_unsupported(hum_files: dict[str, HumFile]) -> None:
    err = _reject(hum_files["memo.m4a"].data, IntakeLimits(max_channels=1), probe=True)
    assert err.code == "unsupported"
    assert "2 audio channels; up to 1" in err.message


def test_too_high_sample_rate_is_unsupported() -> None:
    data = sf_encode(synth_hum(96000), 96000, "WAV")
    err = _reject(data, IntakeLimits(max_sample_rate=48000), probe=True)
    assert err.code == "unsupported"
    assert "96 kHz" in err.message and "48 kHz" in err.message


def test_video_only_mp4_has_no_sound() -> None:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    err = _reject(buf.getvalue(), probe=True)
    assert err.code == "not_audio"
    assert "no sound" in err.message


def test_webm_without_duration_header_is_measured() -> None:
    # MediaRecorder streams WebM without a duration: mux to a sink that can't seek back.
    data = av_encode(synth_hum(48000), 48000, "webm", "libopus", seekable=False)
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration is None  # so probe must add up the packets
    assert audio.probe(data).duration_s == pytest.approx(HUM_S, abs=DURATION_TOLERANCE_S)


def test_channel_layout_change_midway_is_decoded() -> None:
    # Two MP3s joined end to end, mono then stereo: the decoder's layout changes mid-stream.
    mono = av_encode(synth_hum(44100), 44100, "mp3", "libmp3lame")
    stereo = av_encode(synth_hum(44100, channels=2), 44100, "mp3", "libmp3lame")
    clip = audio.decode(mono + stereo)
    assert clip.duration_s == pytest.approx(2 * HUM_S, abs=0.1)
    second = clip.samples[int(HUM_S * 44100) :]
    assert note_pitches(second, 44100, offset_s=0.05)[1] == pytest.approx(NOTES_HZ[1], rel=0.01)


def test_badly_encoded_tags_do_not_sink_an_upload(hum_files: dict[str, HumFile]) -> None:
    # An ID3v2.3 title frame that claims UTF-8 but holds bytes that aren't.
    frame = b"TIT2" + (6).to_bytes(4, "big") + b"\x00\x00" + b"\x03\xff\xfe\xe9a\x00"
    tag = b"ID3\x03\x00\x00" + bytes([0, 0, 0, len(frame)]) + frame
    info = audio.probe(tag + hum_files["hum.mp3"].data)
    assert info.duration_s == pytest.approx(HUM_S, abs=DURATION_TOLERANCE_S)
