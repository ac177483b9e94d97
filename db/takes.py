"""Several takes in one job (issue 14): the job params both halves agree on.

A takes job is an ordinary job whose params say ``takes`` (2..``MAX_TAKES``) and ``take_s`` (the
length of each take). Its ``duration_s`` is the audio it renders in all, ``takes × take_s``, so
the daily quota, ETAs and the run-time history count every take like a track of its own: four
30 s takes cost what four 30 s tracks cost. Limits on one track's length apply to each take.

The worker stores each take's files as ``take<N>.<ext>``, numbered best first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_TAKES", "TAKES", "TAKE_S", "take_name", "take_seconds", "takes_of"]

MAX_TAKES = 4
TAKES = "takes"
TAKE_S = "take_s"


def takes_of(params: Mapping[str, Any]) -> int:
    """How many takes a job renders (1: an ordinary job)."""
    value = params.get(TAKES)
    if isinstance(value, bool) or not isinstance(value, int):
        return 1
    return max(1, min(MAX_TAKES, value))


def take_seconds(params: Mapping[str, Any], duration_s: float) -> float:
    """The length of one take of a job asking for ``duration_s`` in all."""
    n = takes_of(params)
    if n == 1:
        return duration_s
    value = params.get(TAKE_S)
    return float(value) if isinstance(value, int | float) and value > 0 else duration_s / n


def take_name(number: int, ext: str) -> str:
    """``take2.opus``: the stored output of the take ranked ``number`` (1 = best)."""
    return f"take{number}.{ext.lstrip('.')}"
