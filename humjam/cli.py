"""The ``humjam`` command: a thin dispatcher. Each subcommand imports its package lazily,
so ``humjam bot`` never imports torch and ``humjam --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from humjam.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="humjam", description="Hum in, music out.")
    p.add_argument("--log-level", default=os.environ.get("HUMJAM_LOG_LEVEL", "INFO"))
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="render a track from a hum file (no Discord, no queue)")
    g.add_argument(
        "hum", nargs="?", help="audio file (ogg/opus, m4a, mp3, webm, wav, flac); omit: text only"
    )
    g.add_argument(
        "-p", "--prompt", default=None, help="default: lofi hip hop (--continue: the parent's)"
    )
    g.add_argument(
        "-d", "--duration", type=float, default=30.0, help="seconds of output (--continue: added)"
    )
    g.add_argument("-s", "--seed", type=int, default=None, help="default 0 (--continue: parent's)")
    g.add_argument("--style", default=None, help="force a style (see `humjam styles`)")
    g.add_argument(
        "--backend",
        default="arranger",
        choices=["arranger", "musicgen", "both"],
        help="both: the arranger and MusicGen from the same hum, in OUT/arranger/ and "
        "OUT/musicgen/",
    )
    g.add_argument("-f", "--format", default="opus", choices=["opus", "mp3", "wav", "flac"])
    g.add_argument("-o", "--out", default="out", help="output directory")
    g.add_argument(
        "--takes",
        type=int,
        default=1,
        choices=range(1, 5),
        metavar="N",
        help="render N takes (1-4) with different seeds from one hearing of the hum; each is "
        "scored by how closely it follows the hum and written to OUT/take<rank>/",
    )
    g.add_argument(
        "--stems", action="store_true", help="also write stems.zip: one stereo FLAC per instrument"
    )
    g.add_argument(
        "--loop", action="store_true", help="a seamless loop of whole bars (about --duration long)"
    )

    g.add_argument(
        "--continue",
        dest="continue_from",
        metavar="PARENT_DIR",
        default=None,
        help="extend by humming: the hum becomes the next part of the track `humjam generate` "
        "wrote into PARENT_DIR (its key, tempo, metre, style and seed), joined at a bar line",
    )

    d = sub.add_parser("demo", help="render the bundled hum with the embedded arranger")
    d.add_argument("-o", "--out", default="out")
    d.add_argument("-p", "--prompt", default="lofi hip hop, rhodes and vinyl crackle")
    d.add_argument("-d", "--duration", type=float, default=30.0)
    d.add_argument("-s", "--seed", type=int, default=0)
    d.add_argument("-f", "--format", default="opus", choices=["opus", "mp3", "wav", "flac"])

    sub.add_parser("styles", help="list the arranger's styles and the words that pick them")

    li = sub.add_parser("listen", help="show what the arranger hears in a hum (no rendering)")
    li.add_argument("hum", help="audio file (ogg/opus, m4a, mp3, webm, wav, flac)")
    li.add_argument("-p", "--prompt", default="", help="words that pin key/tempo/metre")
    li.add_argument("-o", "--out", default="out", help="output directory (MIDI + piano roll)")

    c = sub.add_parser("countin", help="a jam count-in: one bar of click over the tonic chord")
    c.add_argument("--key", required=True, help='e.g. "D minor", "Bb", "f#m"')
    c.add_argument("--bpm", type=float, required=True)
    c.add_argument("--meter", default="4/4", help="beats per bar over 4: 2/4, 3/4, 4/4, 5/4 ...")
    c.add_argument("-o", "--out", default="out", help="output directory")

    w = sub.add_parser("worker", help="claim and render queued jobs")
    w.add_argument("--backend", default=None, help="arranger | musicgen (default: HUMJAM_BACKEND)")
    w.add_argument("--concurrency", type=int, default=None, help="worker processes")
    w.add_argument("--once", action="store_true", help="drain the queue and exit")
    w.add_argument("--database-url", default=None)

    sub.add_parser("bot", help="run the Discord bot (token from HUMJAM_DISCORD_TOKEN)")

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade", "purge"])
    db.add_argument("--database-url", default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    if args.command in ("generate", "demo", "styles"):
        from generator import commands

        return int(getattr(commands, args.command)(args))
    if args.command == "listen":
        from generator import listen_command

        return int(listen_command.listen(args))
    if args.command == "countin":
        from generator import countin_command

        return int(countin_command.countin(args))
    if args.command == "worker":
        from generator import worker

        return int(worker.main(args))
    if args.command == "bot":
        from bot import app

        return int(app.main(args))
    if args.command == "db":
        from db import commands as db_commands

        return int(db_commands.main(args))
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
