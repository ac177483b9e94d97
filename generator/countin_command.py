"""``humjam countin --key KEY --bpm BPM [--meter N/4] [-o DIR]``: the jam card's "Count me in"
clip without Discord — one bar of click (the louder knock is beat 1) over the key's tonic chord.

The clip is the bot's own (``bot.countin.count_in_file``, synthesised by ``audio.countin``), so
both say the same thing. User mistakes print one friendly line, exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["countin"]

USER_ERROR = 2
_METER = re.compile(r"^\s*(\d{1,2})\s*/\s*4\s*$")


def countin(args: argparse.Namespace) -> int:
    from audio.countin import TAIL_S
    from bot.countin import count_in_file
    from bot.render import slug
    from db.jam import normalise_key

    meter = _METER.match(args.meter)
    try:
        key = normalise_key(args.key)
        if meter is None:
            raise ValueError(f"{args.meter!r} is not a metre the count-in knows; try 3/4 or 4/4")
        beats = int(meter[1])
        data = count_in_file(args.bpm, beats, key)
    except ValueError as exc:
        print(f"humjam: {_friendly(exc, args)}", file=sys.stderr)
        return USER_ERROR

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"humjam-countin-{slug(key)}-{args.bpm:g}bpm-{beats}-4.ogg"
    path.write_bytes(data)
    print(path)
    bar_s = 60.0 * beats / args.bpm
    print(
        f"count-in: {key}, {args.bpm:g} bpm, {beats}/4 — one bar ({bar_s:.2f} s) of click, "
        f"the louder knock on beat 1, over the {key} chord ringing {TAIL_S:g} s on; start "
        f"humming on the next beat 1 ({key.split()[0]} is the home note)"
    )
    return 0


def _friendly(exc: ValueError, args: argparse.Namespace) -> str:
    text = str(exc)
    if text.startswith("no count-in for"):  # audio.countin's range check
        return f"{args.bpm:g} bpm or {args.meter} is out of range: 20-400 bpm, 1/4 to 12/4"
    return text
