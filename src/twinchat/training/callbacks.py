"""Trainer callbacks: the progress bar, `metrics.jsonl`, and a Ctrl-C that loses nothing."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import TrainerCallback


class MetricsLog(TrainerCallback):
    """One JSON line per log event: step, loss, eval loss, learning rate, tokens per second."""

    def __init__(self, path: Path):
        self.path = path
        self.started: float | None = None
        self.tokens_at_start = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()
        self.tokens_at_start = state.num_input_tokens_seen

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" not in logs and "eval_loss" not in logs:
            return  # the end-of-training summary
        elapsed = time.perf_counter() - (self.started or time.perf_counter())
        tokens = state.num_input_tokens_seen - self.tokens_at_start
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        for key in ("loss", "eval_loss", "learning_rate", "grad_norm"):
            if key in logs:
                record[key] = logs[key]
        if elapsed > 0 and tokens:
            record["tokens_per_second"] = round(tokens / elapsed, 1)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


class RichProgress(TrainerCallback):
    """A progress bar with ETA, and one line per evaluation."""

    ESTIMATE_AFTER = 10
    """Steps timed before the one-line estimate of the whole run."""

    def __init__(self, console: Console):
        self.console = console
        self.bar: Progress | None = None
        self.task: Any = None
        self.loss: float | None = None
        self.timing: tuple[int, float] | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("train", total=state.max_steps, loss="")
        self.bar.update(self.task, completed=state.global_step)
        self.timing = (state.global_step, time.perf_counter())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is None:
            return
        loss = f"loss {self.loss:.3f}" if self.loss is not None else ""
        self.bar.update(self.task, completed=state.global_step, loss=loss)
        if self.timing and state.global_step - self.timing[0] == self.ESTIMATE_AFTER:
            self._estimate(state)

    def _estimate(self, state: Any) -> None:
        """The bar's ETA moves; one printed line keeps the first estimate in the log."""
        first, started = self.timing or (0, 0.0)
        per_step = (time.perf_counter() - started) / (state.global_step - first)
        left = per_step * (state.max_steps - state.global_step)
        self.timing = None
        self.bar.console.print(
            f"estimate   {per_step:.2f} s a step · about {_duration(left)} for the "
            f"{state.max_steps - state.global_step:,} steps left (longest batches come first)",
            highlight=False,
        )

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self.bar is None or not logs:
            return
        if "loss" in logs:
            self.loss = logs["loss"]
        if "eval_loss" in logs:
            train = f"train loss {self.loss:.4f} · " if self.loss is not None else ""
            self.bar.console.print(
                f"step {state.global_step}/{state.max_steps} · {train}"
                f"eval loss {logs['eval_loss']:.4f}",
                highlight=False,
            )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class StopOnInterrupt(TrainerCallback):
    """The first Ctrl-C asks the Trainer to save a checkpoint and stop at the end of the step;
    a second one stops at once."""

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self.interrupted = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class StopAfter(TrainerCallback):
    """Stop, saving a checkpoint, so that training and its last evaluation end within `seconds`:
    a time budget is the wall time of the stage, and the evaluation that closes it is part of
    it (it takes as long as the last one did)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.perf_counter):
        self.seconds = seconds
        self.clock = clock
        self.started = self.mark = 0.0
        self.evaluation = 0.0
        """How long the last evaluation took."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = self.mark = self.clock()

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.evaluation = self.clock() - self.mark

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now = self.clock()
        evaluates = args.eval_strategy != "no"
        if now - self.started + (self.evaluation if evaluates else 0.0) > self.seconds:
            control.should_save = True
            control.should_evaluate = evaluates
            control.should_training_stop = True
        self.mark = now


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
