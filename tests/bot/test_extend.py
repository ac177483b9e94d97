"""Extend (under a track and under a take) adds EXTEND_BY_S up to the server's limit."""

from __future__ import annotations

import pytest

from bot.enqueue import EXTEND_BY_S, extended_length
from bot.errors import UserFacingError


def test_extend_adds_the_step_below_the_limit() -> None:
    assert extended_length(20.0, 120.0) == 20.0 + EXTEND_BY_S


def test_extend_stops_at_the_limit() -> None:
    assert extended_length(110.0, 120.0) == 120.0


def test_extend_at_the_limit_is_a_friendly_refusal() -> None:
    with pytest.raises(UserFacingError) as refused:
        extended_length(120.0, 120.0)
    assert refused.value.code == "duration_out_of_range"
    assert "2m 00s" in refused.value.message
