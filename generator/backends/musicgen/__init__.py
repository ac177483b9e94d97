"""MusicGen-melody backend (text + hummed melody → music), run through transformers.

Stages: ``chroma.py`` (audiocraft's melody conditioning), ``model.py`` (loading),
``decode.py`` (batched, static-KV-cache token decoding), ``backend.py`` (windows past 30 s,
Extend, batches). ``testing.py`` builds random models offline for tests and benchmarks.
This package is the only place torch is imported; nothing is imported here so that
``generator.backends`` stays cheap.
"""
