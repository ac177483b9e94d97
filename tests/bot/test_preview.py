"""The preview's pure parts (bot/preview.py): the choice each button makes, what "Sounds right"
pins, the embed and the buttons, without Discord. The choices must read back unchanged through
the worker's ``ReadingChoice.from_json`` (the bot writes JSON; it never imports generator)."""

from __future__ import annotations

import pytest

from bot.preview import (
    PreviewButton,
    adjusted,
    confirmed_choice,
    describe,
    preview_embed,
    preview_view,
)
from bot.render import status_line
from db.types import JobKind, JobStatus
from generator.backends.arranger.listen import ReadingChoice
from tests.bot.test_render import make_job

READING = {
    "key": "F major",
    "key_alternatives": ["F major", "D minor", "C major"],
    "bpm": 93.0,
    "meter": "3/4",
    "octave": 0,
    "confidence": 0.42,
    "confident": False,
    "pinned": ["meter"],
    "notes": 24,
}


def preview_job(reading=READING, choice=None, **changes):
    meta = {"preview": True, "reading": reading, "choice": choice or {}}
    return make_job(kind=JobKind.PREVIEW, result_meta=meta, **changes)


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("half", {"bpm": 46.5}),
        ("double", {"bpm": 186.0}),
        ("m44", {"meter": "4/4"}),
        ("m68", {"meter": "6/8"}),
        ("up", {"octave": 1}),
        ("down", {"octave": -1}),
        ("key", {"key": "D minor"}),  # the next-best key, not the one shown
    ],
)
def test_each_button_changes_one_thing_and_keeps_earlier_choices(action, change):
    earlier = {"key": "F major"} if action != "key" else {"bpm": 93.0}
    choice = adjusted(READING, earlier, action)
    assert choice == {**earlier, **change}
    # the worker reads exactly that choice back
    assert ReadingChoice.from_json(choice).to_json() == choice


@pytest.mark.parametrize(
    ("reading", "action"),
    [
        ({**READING, "bpm": 70.0}, "half"),  # 35 bpm: below any tune
        ({**READING, "bpm": 130.0}, "double"),  # 260 bpm
        (READING, "m34"),  # the metre already shown
        ({**READING, "octave": 2}, "up"),
        ({**READING, "key_alternatives": ["F major"]}, "key"),  # no other key heard
        (READING, "nonsense"),
    ],
)
def test_buttons_that_cannot_apply_make_no_choice(reading, action):
    assert adjusted(reading, {}, action) == {}


def test_sounds_right_pins_everything_the_preview_showed():
    pinned = confirmed_choice({**READING, "octave": 1}, {"bpm": 93.0})
    assert pinned == {"bpm": 93.0, "meter": "3/4", "key": "F major", "octave": 1}
    assert ReadingChoice.from_json(pinned).to_json() == pinned


def test_the_embed_shows_what_was_heard():
    embed = preview_embed(preview_job(), "humjam-42-lofi.png")
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Key"] == "F major" and fields["Tempo"] == "93 bpm"
    assert fields["Metre"] == "3/4 📌"  # pinned by the prompt or a button
    assert fields["Notes"] == "24" and fields["Confidence"] == "42 % · not sure"
    assert "Octave" not in fields
    assert embed.image.url == "attachment://humjam-42-lofi.png"


def test_the_buttons_carry_ids_only_and_skip_what_cannot_apply():
    view = preview_view(preview_job(reading={**READING, "bpm": 70.0}))
    by_action = {b.action: b.item for b in view.children if isinstance(b, PreviewButton)}
    assert len(by_action) == len(view.children)
    assert set(by_action) == {"half", "double", "m44", "m68", "up", "down", "key", "ok"}
    for action, button in by_action.items():
        assert button.custom_id == f"humjam:preview:{action}:42"
    assert by_action["half"].disabled and not by_action["double"].disabled
    assert by_action["double"].label == "2× tempo · 140 bpm"
    assert by_action["key"].label == "Key: D minor"
    assert describe(READING, "half") == "½ tempo · 46.5 bpm"


def test_a_preview_says_it_listens_rather_than_renders():
    running = preview_job(status=JobStatus.RUNNING, progress=0.3)
    assert "listening" in status_line(running) and "rendering" not in status_line(running)
    assert "preview" in status_line(preview_job()) and "done" not in status_line(preview_job())
