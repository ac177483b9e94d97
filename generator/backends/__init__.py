"""Backend registry: ``get_backend(name, settings)`` imports the chosen backend lazily.

torch is only ever imported by the ``musicgen`` backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.backend import Backend

BACKENDS = ("arranger", "musicgen")


def get_backend(name: str, settings: Any = None) -> Backend:
    """Build (not load) the backend called ``name``."""
    if name == "arranger":
        from generator.backends.arranger.backend import ArrangerBackend

        return ArrangerBackend(settings)
    if name == "musicgen":
        from generator.backends.musicgen.backend import MusicgenBackend

        return MusicgenBackend(settings)
    raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
