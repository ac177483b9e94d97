"""Audio intake and output, shared by the bot (probe/validate, no torch) and the generator.

Public API (see the modules for details)::

    probe(data, filename=None, limits=IntakeLimits()) -> AudioInfo     # cheap, header-level; raises AudioRejected
    decode(data, filename=None, limits=IntakeLimits()) -> Clip         # full decode to mono float32
    prepare_hum(clip, target_rate=...) -> Clip                         # trim, DC/hum removal, loudness
    encode(samples, sample_rate, fmt, bitrate=None) -> bytes           # opus | mp3 | wav | flac
    encode_within(samples, sample_rate, max_bytes, preferred="opus") -> tuple[bytes, str]
"""
