"""Drum grooves, one per feel. GM drum notes: 36 kick, 37 side stick, 38 snare, 39 clap,
42 closed hat, 44 pedal hat, 46 open hat, 49 crash, 51 ride, 54 tambourine, 70 maracas,
41/43/45/47/48/50 toms.
"""

from __future__ import annotations

from generator.backends.arranger.styles._model import Groove

_TOM_FILL = {
    36: "X.......X.......",
    38: "....x.x.xoxoX.X.",
    45: "........x.x.....",
    41: "............x.x.",
}

BOOM_BAP = Groove(
    name="boom-bap",
    kit=0,
    verse={36: "X......x..x.....", 38: "....X.......X...", 42: "x.o.x.o.x.o.x.o."},
    chorus={
        36: "X......x..X..x..",
        38: "....X.......X..o",
        42: "x.x.x.x.x.x.x.x.",
        46: "..............o.",
    },
    fill={36: "X......x..x.....", 38: "....X.......X.xo", 42: "x.x.x.x.x.x....."},
    crash=0,
)

BACKBEAT = Groove(
    name="backbeat",
    kit=16,
    verse={36: "X.......X.x.....", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x."},
    chorus={36: "X.......X.X.....", 38: "....X.......X...", 46: "x.x.x.x.x.x.x.x."},
    fill=_TOM_FILL,
)

FOUR_ON_THE_FLOOR = Groove(
    name="four-on-the-floor",
    kit=25,
    verse={36: "X...X...X...X...", 42: "..x...x...x...x."},
    chorus={
        36: "X...X...X...X...",
        39: "....X.......X...",
        42: "xox.xox.xox.xox.",
        46: "..x...x...x...x.",
    },
    fill={36: "X...X...X...X...", 39: "....X...x.x.xxxx", 42: "..x...x........."},
)

JAZZ_RIDE = Groove(
    name="jazz ride",
    kit=32,
    verse={51: "x...x.x.x...x.x.", 44: "....x.......x..."},
    chorus={
        51: "X...x.x.X...x.x.",
        44: "....x.......x...",
        36: "o.......o.......",
        38: "......o.......o.",
    },
    fill={51: "x...x.x.x.......", 38: "......o...x.o.x.", 36: "............X..."},
    crash=0,
)

BRUSHES = Groove(
    name="brushes",
    kit=40,
    verse={36: "x.......x.......", 38: "o.o.x.o.o.o.x.o."},
    chorus={36: "x.......x.......", 38: "o.o.x.o.o.o.x.o.", 51: "x.x.x.x.x.x.x.x."},
    fill={36: "x.......x.......", 38: "o.o.x.o.x.x.xxx."},
    crash=0,
)

FOLK = Groove(
    name="folk",
    kit=0,
    verse={36: "x.......x.......", 54: "....x.......x...", 70: "x.x.x.x.x.x.x.x."},
    chorus={
        36: "X.......x.x.....",
        38: "....x.......x...",
        54: "....x.......x...",
        70: "x.x.x.x.x.x.x.x.",
    },
    fill={36: "x.......x.......", 38: "....x...x.x.x.x.", 70: "x.x.x.x........."},
    crash=0,
)

CHIP = Groove(
    name="chip",
    kit=24,
    verse={36: "X.......X.......", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."},
    chorus={36: "X.....x.X.......", 38: "....X.......X...", 42: "xxxxxxxxxxxxxxxx"},
    fill={36: "X.......X.......", 38: "....x...xxxxXXXX"},
)

ORCHESTRAL = Groove(
    name="orchestral",
    kit=48,
    verse={},
    chorus={36: "X.......x.......", 53: "X..............."},
    fill={36: "X...............", 38: "........xoxoxoxX"},
    crash=57,
)

FUNK = Groove(
    name="funk",
    kit=0,
    verse={36: "X.....x...X.....", 38: "....X..o.o..X..o", 42: "xxxxxxxxxxxxxxxx"},
    chorus={
        36: "X.x...x...X..x..",
        38: "....X..o.o..X..o",
        42: "xxxxxxx.xxxxxxx.",
        46: ".......x.......x",
    },
    fill={36: "X.....x...X.....", 38: "....X..o.oxxXxXx", 42: "xxxxxxxx........"},
)

BOSSA = Groove(
    name="bossa nova",
    kit=40,
    verse={36: "x..xx..xx..xx..x", 37: "x..x..x...x..x..", 70: "xxxxxxxxxxxxxxxx"},
    chorus={36: "x..xx..xx..xx..x", 37: "x..x..x...x..x..", 42: "x.x.x.x.x.x.x.x."},
    fill={36: "x..xx..xx..x....", 37: "x..x..x...x.x.x."},
    crash=0,
)

SYNTHWAVE = Groove(
    name="gated backbeat",
    kit=24,
    verse={36: "X.......X.......", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x."},
    chorus={36: "X.......X.X.....", 38: "....X.......X...", 42: "xxxxxxxxxxxxxxxx"},
    fill={
        36: "X.......X.......",
        38: "....X...x.x.XXXX",
        48: "........x.x.....",
        45: "............x.x.",
    },
)

BALLAD = Groove(
    name="ballad",
    kit=8,
    verse={36: "x.......x.......", 37: "....x.......x..."},
    chorus={36: "x.......x.x.....", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."},
    fill={36: "x.......x.......", 38: "....x...x.x.x.xx"},
)
