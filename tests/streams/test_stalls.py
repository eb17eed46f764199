"""The commit-stall tracker: patience restarts whenever the commit moves or nothing is read past it."""

from __future__ import annotations

from faust.types import TP

from streams.stalls import StallTracker

TP0 = TP("orders", 0)


def test_a_moving_commit_never_stalls() -> None:
    tracker = StallTracker(patience_s=60)
    moves = [tracker.stalled(TP0, committed=10 * i, reached=10 * i + 50, now=30.0 * i) for i in range(20)]
    assert not any(moves)


def test_a_caught_up_partition_never_stalls() -> None:
    tracker = StallTracker(patience_s=60)
    assert not any(tracker.stalled(TP0, committed=49, reached=49, now=float(t)) for t in range(0, 600, 15))


def test_a_stuck_commit_stalls_once_per_patience_and_per_partition() -> None:
    tracker = StallTracker(patience_s=60)
    other = TP("orders", 1)
    seen = [(t, tp) for t in range(0, 181, 15) for tp in (TP0, other)
            if tracker.stalled(tp, 49, 272 if tp == TP0 else 49, float(t))]  # fmt: skip
    assert seen == [(60, TP0), (120, TP0), (180, TP0)]


def test_forget_restarts_patience_after_a_rebalance() -> None:
    tracker = StallTracker(patience_s=60)
    tracker.stalled(TP0, 49, 272, now=0.0)
    tracker.forget()
    assert not tracker.stalled(TP0, 49, 272, now=60.0)
    assert tracker.stalled(TP0, 49, 272, now=120.0)
