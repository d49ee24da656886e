"""The training time budget: training and the evaluation that closes it end within it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("transformers")

from twinchat.training.callbacks import StopAfter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _control() -> SimpleNamespace:
    return SimpleNamespace(should_save=False, should_evaluate=False, should_training_stop=False)


@pytest.mark.parametrize("strategy", ["steps", "no"])
def test_the_budget_keeps_room_for_the_last_evaluation(strategy):
    clock, args = Clock(), SimpleNamespace(eval_strategy=strategy)
    stop = StopAfter(60, clock=clock)
    stop.on_train_begin(args, None, _control())
    clock.now = 10.0  # the evaluation before the first step took 10 s
    stop.on_evaluate(args, None, _control())
    stops = []
    for now in (30.0, 45.0, 52.0, 58.0):
        clock.now = now
        control = _control()
        stop.on_step_end(args, None, control)
        stops.append(control.should_training_stop)
    if strategy == "steps":
        # at 52 s a 10 s evaluation would end at 62: stop now, and evaluate
        assert stops == [False, False, True, True]
    else:
        assert stops == [False, False, False, False]


def test_a_slower_evaluation_mid_training_moves_the_stop_earlier():
    clock, args = Clock(), SimpleNamespace(eval_strategy="steps")
    stop = StopAfter(100, clock=clock)
    stop.on_train_begin(args, None, _control())
    clock.now = 20.0
    stop.on_step_end(args, None, _control())
    clock.now = 50.0  # an evaluation after that step: 30 s
    stop.on_evaluate(args, None, _control())
    clock.now = 71.0
    control = _control()
    stop.on_step_end(args, None, control)
    assert control.should_training_stop and control.should_evaluate and control.should_save
