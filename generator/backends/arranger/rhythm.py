"""Sung note onsets → beats: tempo, beat positions, simple or compound time, bar length.

A hum drifts: a fixed tempo grid laid over 15 s of singing slips by half a beat. So the
rhythm is read note by note, as a listener follows a singer (an HMM, solved by Viterbi):

- state: the local beat period (a log grid, 25-240 bpm) and where in the beat the note
  falls (on the beat, half/quarter beats; in compound time thirds/sixths);
- each inter-onset interval is a written duration (from a small vocabulary of musical
  durations, each with a prior) times the local period, with timing noise that grows with
  the interval;
- the period may drift a little from note to note (rubato), never jump;
- notes on the beat are likelier than off it, eighths than sixteenths (metrical prior),
  and a tempo prior (log-normal around 100 bpm) settles the tempo octave the pattern
  itself cannot.

Simple and compound time are read separately and the likelier reading wins. The bar
length then comes from where the long notes fall: duration-weighted accents over
candidate bar lengths (2, 3, 4 beats), with a prior for the common metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BarReading",
    "RhythmReading",
    "bar_contrasts",
    "read_bars",
    "read_rhythm",
    "thirds_share",
]

# Beat periods considered (s): 250 bpm .. 30 bpm, log-spaced by PERIOD_STEP.
PERIOD_MIN, PERIOD_MAX, PERIOD_STEP = 0.24, 2.0, 0.02
# Per-note drift of the period: cost (squared, in log steps) and the widest step allowed.
DRIFT_STEPS = 3
DRIFT_COST = 0.35
# Timing noise of an inter-onset interval: absolute (s) + relative to its length.
TIMING_ABS_S, TIMING_REL = 0.03, 0.05
# Tempo prior: log-normal around TEMPO_CENTRE bpm, TEMPO_WIDTH octaves wide; TEMPO_PER_NOTE
# of it is paid at every note.
TEMPO_CENTRE, TEMPO_WIDTH = 85.0, 0.6
COMPOUND_TEMPO_CENTRE = 66.0
TEMPO_PER_NOTE = 0.3

# (duration in beats, relative likelihood): simple time counts quarters, compound dotted
# quarters (1/3 = an eighth).
SIMPLE_DURATIONS = {
    0.25: 0.5,
    0.5: 2.5,
    0.75: 0.7,
    1.0: 3.0,
    1.5: 1.2,
    2.0: 1.6,
    3.0: 0.7,
    4.0: 0.4,
}
COMPOUND_DURATIONS = {
    1 / 6: 0.4,
    1 / 3: 2.5,
    0.5: 0.4,
    2 / 3: 2.0,
    1.0: 2.5,
    4 / 3: 0.6,
    5 / 3: 0.3,
    2.0: 1.2,
    3.0: 0.4,
}
# Where in the beat a note may start (fraction of a beat) and how likely it is.
SIMPLE_POSITIONS = {0.0: 4.0, 0.5: 2.0, 0.25: 0.5, 0.75: 0.5}
COMPOUND_POSITIONS = {0.0: 4.0, 1 / 3: 1.5, 2 / 3: 1.5, 1 / 6: 0.3, 0.5: 0.3, 5 / 6: 0.3}
# A reading held to a given beat keeps periods within this (log) ratio of it: ±10 %.
BEAT_WINDOW = 0.1
# Cost of a syncopation (a note from off the beat held across the next beat).
SYNCOPATION_COST = 1.0
# Per note, a compound reading pays more for the same onsets (three positions per beat
# instead of two, so each is less likely a priori); this evens the two out. Set on the
# benchmark's tuning half: the cost gap is ~0.3 per note for 6/8 tunes, 0.6-0.8 otherwise.
COMPOUND_BIAS = 0.4
# ... and it must put at least this share of the notes on a third of a beat.
MIN_THIRDS = 0.1

# Bar lengths (beats) and priors; compound bars are 2 dotted quarters (6/8).
BAR_PRIOR = {2: 0.8, 3: 1.0, 4: 1.4}
BAR_PRIOR_WEIGHT = 0.1
# A note's accent: its written length to this power (a half note outweighs two quarters).
BAR_WEIGHT_POWER = 0.7


@dataclass(frozen=True)
class RhythmReading:
    """The onsets as written: ``starts`` in beats from the first note, one per onset."""

    starts: tuple[float, ...]
    periods: tuple[float, ...]  # local beat period (s) at each note
    bpm: float
    compound: bool
    cost: float  # per note: lower fits better
    margin: float  # cost of the other time (simple/compound, or next tempo) minus this one


@dataclass(frozen=True)
class BarReading:
    beats_per_bar: int
    downbeat: float  # beat position (from the first note) of a bar line
    confidence: float  # 0..1


def _periods() -> npt.NDArray[np.float64]:
    steps = int(math.log(PERIOD_MAX / PERIOD_MIN) / PERIOD_STEP) + 1
    return np.asarray(PERIOD_MIN * np.exp(PERIOD_STEP * np.arange(steps)))


def read_rhythm(
    onsets: Sequence[float],
    compound: bool | None = None,
    weights: Sequence[float] | None = None,
    beat: float | None = None,
) -> RhythmReading:
    """Read ``onsets`` (s, ascending) in simple time, compound time, or whichever fits better;
    given a ``beat`` (s), only with beat periods within BEAT_WINDOW of it."""
    times = np.asarray(onsets, dtype=np.float64)
    if len(times) < 3:
        return RhythmReading(
            tuple(float(i) for i in range(len(times))), (0.6,) * len(times), 100.0, False, 0.0, 0.0
        )
    options = (False, True) if compound is None else (compound,)
    readings = [_viterbi(times, c, beat) for c in options]
    readings.sort(key=lambda r: r.cost - (COMPOUND_BIAS if r.compound else 0.0))
    if readings[0].compound and thirds_share(readings[0].starts) < MIN_THIRDS and len(readings) > 1:
        readings.reverse()  # hardly a note between the beats: nothing says "compound"
    best = readings[0]
    margin = abs(readings[1].cost - best.cost - COMPOUND_BIAS) if len(readings) > 1 else best.margin
    return RhythmReading(best.starts, best.periods, best.bpm, best.compound, best.cost, margin)


def thirds_share(starts: Sequence[float]) -> float:
    """Share of notes starting a third or two thirds into a beat."""
    frac = np.mod(np.asarray(starts), 1.0)
    return float(np.mean((np.abs(frac - 1 / 3) < 1e-6) | (np.abs(frac - 2 / 3) < 1e-6)))


def _viterbi(
    times: npt.NDArray[np.float64], compound: bool, beat: float | None = None
) -> RhythmReading:
    periods = _periods()
    if beat is not None:
        periods = periods[np.abs(np.log(periods / beat)) <= BEAT_WINDOW]
    durations_map = COMPOUND_DURATIONS if compound else SIMPLE_DURATIONS
    positions_map = COMPOUND_POSITIONS if compound else SIMPLE_POSITIONS
    durations = np.array(list(durations_map))
    dur_cost = -np.log(np.array(list(durations_map.values())) / sum(durations_map.values()))
    positions = np.array(list(positions_map))
    pos_cost = -np.log(np.array(list(positions_map.values())) / sum(positions_map.values()))
    n_p, n_q, n_d = len(periods), len(positions), len(durations)
    # Where a note at position q lands after duration d.
    landing = np.full((n_q, n_d), -1, dtype=np.intp)
    for qi, q in enumerate(positions):
        for di, d in enumerate(durations):
            frac = (q + d) % 1.0
            match = np.flatnonzero(np.abs(positions - frac) < 1e-6)
            if match.size == 0 and abs(frac - 1.0) < 1e-6:
                match = np.array([0])
            if match.size:
                landing[qi, di] = int(match[0])

    centre = COMPOUND_TEMPO_CENTRE if compound else TEMPO_CENTRE
    bpm = 60.0 / periods
    tempo_cost = 0.5 * (np.log2(bpm / centre) / TEMPO_WIDTH) ** 2

    iois = np.diff(times)
    n = len(iois)
    # Flat (position, duration) pairs grouped by the position they land on.
    into = [np.flatnonzero(landing.ravel() == t) for t in range(n_q)]
    # A note starting off the beat and held across the next one is a syncopation: rarer.
    crosses = (positions[:, None] > 1e-6) & (positions[:, None] + durations[None, :] > 1 + 1e-6)
    step_cost = (dur_cost[None, :] + SYNCOPATION_COST * crosses).ravel()  # (q*d,)
    cost = np.tile(pos_cost[None, :], (n_p, 1)) + tempo_cost[:, None]  # (period, position)
    back_p = np.zeros((n, n_p, n_q), dtype=np.intp)
    back_qd = np.zeros((n, n_p, n_q), dtype=np.intp)
    expected = periods[:, None] * durations[None, :]  # (period, duration)
    noise = TIMING_ABS_S + TIMING_REL * expected
    width = 2 * DRIFT_STEPS + 1
    drift_penalty = DRIFT_COST * (np.arange(width) - DRIFT_STEPS) ** 2
    rows = np.arange(n_p)
    for i, ioi in enumerate(iois):
        # Allow the period to drift: best predecessor within ±DRIFT_STEPS log steps.
        padded = np.pad(cost, ((DRIFT_STEPS, DRIFT_STEPS), (0, 0)), constant_values=np.inf)
        stack = np.stack([padded[k : k + n_p] for k in range(width)]) + drift_penalty[:, None, None]
        pick = np.argmin(stack, axis=0)  # (period, position)
        drifted = np.take_along_axis(stack, pick[None], axis=0)[0]
        origin = rows[:, None] + pick - DRIFT_STEPS
        emit = 0.5 * ((ioi - expected) / noise) ** 2 + np.log(noise / TIMING_ABS_S)
        total = (
            (drifted[:, :, None] + emit[:, None, :]).reshape(n_p, -1)
            + step_cost
            + tempo_cost[:, None] * TEMPO_PER_NOTE
        )
        new = np.full((n_p, n_q), np.inf)
        for target, flat in enumerate(into):
            if flat.size == 0:
                continue
            block = total[:, flat]
            arg = np.argmin(block, axis=1)
            new[:, target] = block[rows, arg] + pos_cost[target]
            chosen = flat[arg]
            back_qd[i, :, target] = chosen
            back_p[i, :, target] = origin[rows, chosen // n_d]
        cost = new

    p, q = np.unravel_index(int(np.argmin(cost)), cost.shape)
    final = float(cost[p, q])
    chosen_d = np.zeros(n, dtype=np.intp)
    chosen_p = np.zeros(n + 1, dtype=np.intp)
    chosen_p[n] = p
    for i in range(n - 1, -1, -1):
        qd = back_qd[i, p, q]
        chosen_d[i] = qd % n_d
        p, q = back_p[i, p, q], qd // n_d
        chosen_p[i] = p
    start_position = float(positions[q])
    starts = start_position + np.concatenate([[0.0], np.cumsum(durations[chosen_d])])
    local = periods[chosen_p]
    # The tempo: total written beats over total sung time (robust to the drift).
    beats = float(starts[-1] - starts[0])
    bpm_read = (
        60.0 * beats / float(times[-1] - times[0]) if beats > 0 else 60.0 / float(np.median(local))
    )
    return RhythmReading(
        starts=tuple(float(s) for s in starts),
        periods=tuple(float(x) for x in local),
        bpm=bpm_read,
        compound=compound,
        cost=final / max(n, 1),
        margin=0.0,
    )


def bar_contrasts(
    starts: Sequence[float], lengths: Sequence[float], bars: Sequence[int]
) -> dict[int, tuple[float, float]]:
    """Per bar length: the best duration-weighted accent contrast (the share of note weight on
    that bar's downbeats minus the share by chance, 1/bar) and the downbeat (beat) giving it."""
    pos = np.asarray(starts, dtype=np.float64)
    weight = np.clip(np.asarray(lengths, dtype=np.float64), 0.1, 4.0) ** BAR_WEIGHT_POWER
    on_beat = np.abs(pos - np.round(pos)) < 1e-6
    scores: dict[int, tuple[float, float]] = {}
    for bar in bars:
        best = (-math.inf, 0.0)
        for phase in range(bar):
            at_bar = on_beat & (np.mod(np.round(pos) - phase, bar) == 0)
            contrast = float(weight[at_bar].sum() / weight.sum()) - 1.0 / bar
            if contrast > best[0]:
                best = (contrast, float(phase))
        scores[bar] = best
    return scores


def read_bars(
    starts: Sequence[float],
    lengths: Sequence[float],
    compound: bool,
    beats_per_bar: int | None = None,
    candidates: Sequence[int] | None = None,
) -> BarReading:
    """Bar length and downbeat from where the long notes fall (duration-weighted accents)."""
    if candidates is None:
        candidates = (2,) if compound else (2, 3, 4)
    if beats_per_bar is not None:
        candidates = (beats_per_bar,)
    scores = bar_contrasts(starts, lengths, candidates)
    if len(candidates) == 1:
        bar = candidates[0]
        return BarReading(bar, scores[bar][1], 1.0)
    ranked = sorted(
        candidates, key=lambda b: -(scores[b][0] + BAR_PRIOR_WEIGHT * math.log(BAR_PRIOR[b]))
    )
    bar = ranked[0]
    gap = (scores[bar][0] - scores[ranked[1]][0]) if len(ranked) > 1 else 1.0
    return BarReading(bar, scores[bar][1], float(np.clip(0.5 + 2.0 * gap, 0.0, 1.0)))
