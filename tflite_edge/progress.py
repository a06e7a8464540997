"""Training progress: a rich progress bar on a terminal, one plain line per epoch otherwise."""
from __future__ import annotations

import sys
import time

from . import compat


def epoch_progress(total_epochs: int, label: str):
    keras = compat.keras()

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.monotonic()
            self.bar = None
            if sys.stdout.isatty():
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

                self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.description}"),
                                    TimeElapsedColumn(), transient=True)
                self.task = self.bar.add_task("", total=total_epochs)
                self.bar.start()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            text = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float) and k != "lr")
            if self.bar:
                self.bar.update(self.task, advance=1, description=text)
            else:
                print(f"  {label} epoch {epoch + 1}/{total_epochs} {text}", flush=True)

        def on_train_end(self, logs=None):
            if self.bar:
                self.bar.stop()

    return EpochProgress()


class Steps:
    """A transient rich progress bar on stderr for `total` steps (convert, evaluate, bench) on a
    terminal; silent otherwise (logs and pipes get the results, not the bar)."""

    def __init__(self, total: int, label: str):
        self.bar = None
        if total > 0 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.description}"), TimeElapsedColumn(),
                                console=Console(file=sys.stderr), transient=True)
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def advance(self, done: str = "") -> None:
        if self.bar:
            self.bar.update(self.task, advance=1, description=done)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None


def steps(total: int, label: str) -> Steps:
    """`Steps(total, label)`: call `.advance(what)` after each step and `.close()` at the end."""
    return Steps(total, label)
