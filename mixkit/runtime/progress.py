"""One progress display for every long job (build steps, OCR rendering, audit, translation):
rich bars on a terminal, nothing when disabled, so the library works quietly without one."""
from __future__ import annotations


class Progress:
    """Named bars updated with (done, total); `log` prints a line above them."""

    def __init__(self, enabled: bool = True, console=None):
        self.enabled = enabled
        self._p = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
                TimeElapsedColumn, TimeRemainingColumn

            self._p = RichProgress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                                   TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                                   transient=False, console=console)
            self._p.start()
        self.tasks: dict[str, int] = {}

    def update(self, name: str, done: int, total: int, note: str | None = None) -> None:
        """Bar `name` at done/total; `note`: a short readout after it (e.g. samples/s)."""
        if not self._p:
            return
        if name not in self.tasks:
            self.tasks[name] = self._p.add_task(name, total=max(total, 1), note="")
        fields = {"note": note} if note is not None else {}
        self._p.update(self.tasks[name], completed=done, total=max(total, 1), **fields)

    def callback(self, name: str):
        """An (done, total) callback bound to one bar, for executors and runners."""
        return lambda done, total: self.update(name, done, total)

    def log(self, msg: str) -> None:
        if self._p:
            self._p.console.print(msg)

    def stop(self) -> None:
        if self._p:
            self._p.stop()
            self._p = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
