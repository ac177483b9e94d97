"""The one interface every backend implements, and the values that cross it.

A backend turns a ``RenderRequest`` (prompt + prepared hum + duration + seed) into a
``RenderResult`` (float32 audio frames × channels + extras). Workers know nothing else about
backends.

Audio convention: ``(n, channels)`` float32 in [-1, 1], channels 1 or 2. The arranger renders
stereo; MusicGen's models are mono and stay mono (``(n, 1)``, or ``(n,)``, which every consumer
also accepts as mono): widening a mono model's output would only fake a stereo image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RenderRequest:
    """What to render.

    ``melody`` is the prepared hum (mono float32, already decoded and cleaned by ``audio``),
    or ``None`` for text-only requests. ``options`` carries backend-specific extras, e.g.
    ``key`` ("D minor"), ``bpm`` (90), ``style`` ("lofi"), ``continue_audio`` for Extend; the
    arranger also reads ``stems`` (return per-instrument stems too) and ``loop`` (a seamless
    loop of whole bars instead of a song with an ending).
    """

    prompt: str
    duration_s: float
    seed: int
    melody: FloatArray | None = None
    melody_rate: int = 0
    style: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderResult:
    """What came out: float32 audio in [-1, 1] at ``sample_rate`` (see the module's audio
    convention), plus extras.

    ``metadata`` holds JSON-able facts for the user (style, key, bpm, backend, timings).
    ``midi`` and ``piano_roll_png`` are encoded files, when the backend makes them.
    ``stems`` (when asked for with ``options["stems"]``): one array per instrument group, same
    shape as ``audio``, summing to it.
    """

    audio: FloatArray
    sample_rate: int
    metadata: Mapping[str, Any] = field(default_factory=dict)
    midi: bytes | None = None
    piano_roll_png: bytes | None = None
    stems: Mapping[str, FloatArray] | None = None

    @property
    def frames(self) -> int:
        """Length in samples per channel."""
        return int(self.audio.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.audio.ndim == 1 else int(self.audio.shape[1])


class Progress(Protocol):
    """Called by backends between stages/chunks: ``progress(0.4, "render")``.

    It may raise ``RenderCancelled`` when the job was cancelled; backends let it propagate.
    """

    def __call__(self, fraction: float, stage: str) -> None: ...


def no_progress(fraction: float, stage: str) -> None:
    """A progress callback that ignores everything (CLI, tests)."""


@runtime_checkable
class Backend(Protocol):
    """A renderer. ``load`` once per process, ``check`` before heavy work, ``render`` per job."""

    name: str
    #: how many compatible jobs ``render_batch`` accepts at once (1 = no batching)
    max_batch: int

    def load(self) -> None: ...

    def close(self) -> None: ...

    def check(self, request: RenderRequest) -> None:
        """Raise ``RenderRefused`` if the request can't be rendered (limit in the message)."""
        ...

    def render(self, request: RenderRequest, progress: Progress = no_progress) -> RenderResult: ...

    def render_batch(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RenderResult]: ...
