"""Draw the pictures of docs/jam.md: a four-member jam session on synthetic hums.

Runs the real listening and jam stages (``analyse_hum`` → ``conform_part`` → ``plan_song`` →
piano roll); no Discord, no database. ``python scripts/jam_demo.py [out_dir] [--audio]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.backends.arranger.analysis import analyse_hum
from generator.jam.form import plan_song
from generator.jam.parts import (
    JamPart,
    Role,
    conform_part,
    invent_part,
    parse_key,
    register_for_role,
)
from generator.jam.pianoroll import session_piano_roll
from tests.generator.hum_synth import RATE, sing

TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]
HOOK = [67, 69, 67, 64, 62, 64, 65, 64, 60]
HOOK_BEATS = [1, 1, 2, 1, 1, 1, 1, 2, 6]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "docs")
    key, bpm = parse_key("D minor"), 100.0
    takes = [  # (member, role, tune, beats, transposition of the hum, votes)
        ("alice", Role.VERSE, TUNE, BEATS, 0, 1),
        ("bob", Role.CHORUS, HOOK, HOOK_BEATS, 2, 2),
        ("carol", Role.COUNTER_MELODY, TUNE[::-1], BEATS, -2, 0),
        ("alice", Role.BRIDGE, HOOK[::-1], HOOK_BEATS, 5, 0),
    ]
    parts = []
    for i, (name, role, tune, beats, shift, votes) in enumerate(takes, start=1):
        melody = analyse_hum(
            sing([p + shift for p in tune], beats, bpm, seed=i), RATE, bpm=bpm, beats_per_bar=4
        )
        notes = register_for_role(conform_part(melody, key, bpm, 4), role)
        member = {"alice": 1, "bob": 2, "carol": 3}[name]
        parts.append(JamPart(i, member, name, role, notes, votes))
    bass = register_for_role(invent_part(Role.BASS_LINE, key, bars=4, seed=7), Role.BASS_LINE)
    parts.append(JamPart(5, 4, "owner", Role.BASS_LINE, bass))
    plan = plan_song(parts, 55.0, key=key, bpm=bpm)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jam-session.png").write_bytes(
        session_piano_roll(plan, title="friday jam — D minor, 100 bpm, lofi")
    )
    solo = plan_song([parts[1]], 12.0, key=key, bpm=bpm)
    joined = [p.member_id for p in parts]
    (out / "jam-part.png").write_bytes(
        session_piano_roll(solo, title="bob — chorus in D minor", members=joined)
    )
    if "--audio" in sys.argv:
        import audio
        from generator.jam.mixdown import render_session

        mix = render_session(plan, "lofi", 1)
        (out / "jam-session.opus").write_bytes(audio.encode(mix.audio, mix.sample_rate, "opus"))
        (out / "jam-session.mid").write_bytes(mix.midi)
    print(" → ".join(f"{s.name}({s.bars})" for s in plan.sections))


if __name__ == "__main__":
    main()
