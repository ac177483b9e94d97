"""The takes post as pure functions: embed, buttons, file names (no Discord)."""

from __future__ import annotations

from bot.takes import TakeInfo, take_filename, takes_embed, takes_of_job, takes_view
from tests.bot.test_jam_render import _job

_META = {
    "style": "lofi",
    "key": "D minor",
    "bpm": 90,
    "takes": [
        {"take": 2, "seed": 8, "score": 0.8123},
        {"take": 1, "seed": 9, "score": 0.9051},
        {"take": 3, "seed": 7, "score": 0.8},
    ],
}


def _takes_job(**kw: object) -> object:
    base = dict(
        id=2**40, prompt="lofi *rhodes*", duration_s=90.0, params={"takes": 3, "take_s": 30.0},
        result_meta=_META,
    )  # fmt: skip
    return _job(**{**base, **kw})


def test_takes_come_best_first_with_their_scores() -> None:
    job = _takes_job()
    takes = takes_of_job(job)  # type: ignore[arg-type]
    assert [(t.number, t.seed) for t in takes] == [(1, 9), (2, 8), (3, 7)]
    embed = takes_embed(job, takes)  # type: ignore[arg-type]
    names = [f.name for f in embed.fields if f.name.startswith("Take")]
    assert names == [
        "Take 1 🏆 — follows your hum 90.5%",
        "Take 2 — follows your hum 81.2%",
        "Take 3 — follows your hum 80.0%",
    ]
    assert "3 takes of 30s" in (embed.description or "")
    kept = takes_embed(job, takes, kept=2)  # type: ignore[arg-type]
    assert [f.name for f in kept.fields if f.name.startswith("Take")] == [names[1]]


def test_unscored_takes_say_so() -> None:
    job = _takes_job()
    embed = takes_embed(job, [TakeInfo(1, 9, None), TakeInfo(2, 10, None)])  # type: ignore[arg-type]
    assert [f.name for f in embed.fields][:2] == [
        "Take 1 — not scored (no hum)",
        "Take 2 — not scored (no hum)",
    ]


def test_buttons_fit_discord_limits_and_carry_ids_only() -> None:
    view = takes_view(2**63 - 1, [1, 2, 3, 4])
    ids = [item.custom_id for item in view.children]  # type: ignore[attr-defined]
    assert len(ids) == 4 * 3 + 2 and len(set(ids)) == len(ids)
    assert all(len(i) <= 100 for i in ids)
    assert f"humjam:take:keep:{2**63 - 1}:4" in ids
    rows = {item.row for item in view.children}
    assert rows == {0, 1, 2, 3, 4}  # Discord allows five rows
    kept = takes_view(5, [2], actions=("extend", "remix"))
    assert [i.custom_id for i in kept.children] == [  # type: ignore[attr-defined]
        "humjam:take:extend:5:2", "humjam:take:remix:5:2", "humjam:info:5", "humjam:delete:5",
    ]  # fmt: skip


def test_file_names_are_safe_and_numbered() -> None:
    assert take_filename(_takes_job(id=42), 2, "opus") == "humjam-42-take2-lofi-rhodes.opus"  # type: ignore[arg-type]
