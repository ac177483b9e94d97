"""The arranger's styles: genre → instrumentation, feel and patterns (data only)."""

from __future__ import annotations

from generator.backends.arranger.styles._model import DrumPattern, Groove, Style
from generator.backends.arranger.styles.catalog import STYLES

__all__ = ["DEFAULT_STYLE", "STYLES", "DrumPattern", "Groove", "Style", "get_style"]

#: the style used when a prompt names no genre we know
DEFAULT_STYLE = "lofi"

_BY_NAME = {s.name: s for s in STYLES}
_ALIASES = {
    "ballad": "piano ballad",
    "piano": "piano ballad",
    "bossa": "bossa nova",
    "lo-fi": "lofi",
}


def get_style(name: str) -> Style:
    """The style called ``name`` (case-insensitive); ``KeyError`` lists the valid names."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return _BY_NAME[key]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; choose one of: {', '.join(_BY_NAME)}") from None
