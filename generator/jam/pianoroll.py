"""The session's piano roll: every take as placed in the song, coloured by member."""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from generator.jam.form import SongPlan

__all__ = ["member_colours", "session_piano_roll"]

# Colour-blind-safe qualitative palette (Okabe–Ito), cycled past eight members.
_PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#0072B2", "#F0E442", "#000000")


def member_colours(member_ids: Sequence[int]) -> dict[int, str]:
    """A stable colour per member, by order of joining (first take) in the session."""
    order = list(dict.fromkeys(member_ids))
    return {mid: _PALETTE[i % len(_PALETTE)] for i, mid in enumerate(order)}


def session_piano_roll(
    plan: SongPlan,
    *,
    title: str | None = None,
    members: Sequence[int] | None = None,
    dpi: int = 110,
) -> bytes:
    """PNG bytes: time in bars across, pitch up, one colour per member, sections shaded.

    ``members`` (ids in order of joining the session) keeps a member's colour the same in a
    one-part preview as in the whole session's roll.
    """
    in_plan = [p.member_id for p in sorted(plan.parts, key=lambda p: p.id)]
    colours = member_colours([*(members or ()), *in_plan])
    # Figure (not pyplot): no global state, safe in worker threads.
    fig = Figure(figsize=(12, 4.8), dpi=dpi)
    ax = fig.add_subplot()
    bpb = plan.beats_per_bar
    pitches: list[int] = []
    for i, sec in enumerate(plan.sections):
        if i % 2:
            ax.axvspan(sec.start_bar, sec.start_bar + sec.bars, color="#f2f2f2", zorder=0)
        ax.text(
            sec.start_bar + 0.1,
            1.0,
            sec.name,
            transform=ax.get_xaxis_transform(),
            va="bottom",
            fontsize=8,
            color="#444444",
        )
    for sec, part, notes in plan.placements():
        z = 3 if part.id == sec.lead else 2  # the tune on top of the layers under it
        for n in notes:
            pitches.append(n.pitch)
            ax.broken_barh(
                [(n.start_beat / bpb, n.duration_beats / bpb)],
                (n.pitch - 0.4, 0.8),
                facecolors=colours[part.member_id],
                zorder=z,
                edgecolors="#00000055",
                linewidth=0.3,
            )
    ax.set_xlim(0, max(1, plan.total_bars))
    if pitches:
        ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    ax.set_xlabel(f"bar ({plan.bpm:g} bpm, {bpb}/4)")
    ax.set_ylabel("MIDI pitch")
    names = {p.member_id: p.member_name for p in plan.parts}
    ax.legend(
        handles=[Patch(color=c, label=names[m]) for m, c in colours.items() if m in names],
        loc="upper right",
        fontsize=8,
        framealpha=0.8,
    )
    fig.suptitle(title or f"Jam session in {plan.key.name}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
