"""Fixtures for the audio tests (helpers live in ``tests/audio/synth.py``)."""

from __future__ import annotations

import pytest

from tests.audio.synth import HumFile, make_hum_files


@pytest.fixture(scope="session")
def hum_files() -> dict[str, HumFile]:
    """The synthetic hum in every format a phone, browser or Discord produces."""
    return make_hum_files()
