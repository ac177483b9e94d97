"""What members read: the count-in reply and how far a part was moved (pure functions)."""

from __future__ import annotations

from bot.countin import CountMeIn, count_in_text
from bot.jam_render import fit_text, part_content
from db.jam import key_tonic
from tests.bot.test_jam_render import _job, _session  # the shared value builders


def test_count_in_reply_names_key_tempo_metre_and_the_home_note() -> None:
    text = count_in_text(_session(name="friday *jam*", beats_per_bar=3))
    assert "D minor" in text and "100 BPM" in text and "3/4" in text and "**D**" in text
    assert "friday \\*jam\\*" in text  # a session name can't break the formatting


def test_count_in_button_carries_ids_only() -> None:
    item = CountMeIn(2**63 - 1)
    custom_id = item.item.custom_id
    assert custom_id == f"humjam:countin:{2**63 - 1}" and len(custom_id) <= 100


def test_key_tonic() -> None:
    assert key_tonic("D minor") == (2, True)
    assert key_tonic("bb") == (10, False)


def test_fit_text_says_how_far_and_which_way() -> None:
    text = fit_text(
        {"from_key": "E major", "to_key": "D minor", "semitones": -2, "octaves": 0,
         "hum_bpm": 92.6, "tempo_ratio": 1.08}
    )  # fmt: skip
    assert "transposed down 2 semitones (E major → D minor)" in text
    assert "tempo stretched ×1.08" in text and "~93 BPM" in text
    kept = fit_text(
        {"from_key": "D minor", "to_key": "D minor", "semitones": -12, "octaves": -1,
         "hum_bpm": 100.4, "tempo_ratio": 0.996}
    )  # fmt: skip
    assert "kept in its key" in kept and "an octave down" in kept and "tempo kept" in kept
    up = fit_text({"from_key": "C major", "to_key": "C# major", "semitones": 1, "tempo_ratio": 1})
    assert "transposed up 1 semitone " in up


def test_part_reply_shows_the_fit_only_for_hummed_parts() -> None:
    fit = {"from_key": "E major", "to_key": "D minor", "semitones": -2, "tempo_ratio": 1.1}
    params = {"jam_session": 3, "jam_action": "part", "jam_part": 5}
    hummed = _job(
        params=params, result_meta={"role": "verse", "key": "D minor", "bpm": 100, "fit": fit}
    )
    assert "transposed down 2 semitones" in part_content(hummed)
    invented = _job(
        params=params, result_meta={"role": "verse", "key": "D minor", "bpm": 100, "invented": True}
    )
    assert "Moved to fit" not in part_content(invented)
