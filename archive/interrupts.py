"""Ctrl-C (SIGINT) during an archive write, taken only where the archive can be put right.

Python raises KeyboardInterrupt between any two bytecodes, which in a write can fall
between closing and reopening the database, or after the write's last commit: the
clean-up then fails, or the command says "interrupted" about a model it stored. Inside
:func:`guarded`, SIGINT is recorded instead, and raised only

- at once, inside :func:`interruptible` (work whose clean-up copes with being stopped
  anywhere: converting a model, filling the tensor store, building rows);
- at :func:`poll`, which a write calls between its steps (bulk loads of a table part);
- when the outermost :func:`guarded` ends, unless :func:`completed` said the write is
  done: then the interrupt came too late to stop it, and is dropped, so what is
  reported (stored, exit 0) is what is stored.

Once raised, later interrupts wait: the clean-up that follows runs to its end. Outside
the main thread (where no signal handler can be set), and in a process that ignores
SIGINT, everything here does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_RAISE, _DEFER, _DONE = "raise", "defer", "done"


class _State:
    """The one SIGINT handler's state (signals reach only the main thread)."""

    def __init__(self) -> None:
        self.depth = 0  # nested guarded() blocks
        self.mode = _DEFER
        self.pending = False  # an interrupt came and was not raised yet
        self.previous: Any = None  # the handler guarded() replaced

    def handle(self, signum: int, frame: Any) -> None:
        if self.mode == _RAISE:
            # as the handler guarded() replaced would: KeyboardInterrupt, at once or (the
            # modelexport program's, while a module imports) once it can be taken
            raise_now = self.previous if callable(self.previous) else signal.default_int_handler
            try:
                raise_now(signum, frame)
            except KeyboardInterrupt:
                self.mode = _DEFER  # the clean-up that follows is not cut short
                raise
            return
        self.pending = True


_state = _State()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def guarded(*, last: bool = False) -> Iterator[None]:
    """Hold SIGINT back inside (see the module's docstring); nests.

    ``last``: the process ends right after this block (a command line). A completed
    write then leaves SIGINT ignored, so no interrupt on the way out can turn what was
    stored into a failure.
    """
    if not _main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield  # (a process that ignores SIGINT, as a shell's background job does, goes on)
        return
    state = _state
    if state.depth == 0:
        state.previous = signal.signal(signal.SIGINT, state.handle)
        state.mode, state.pending = _DEFER, False
    state.depth += 1
    held = False
    try:
        yield
    finally:
        state.depth -= 1
        if state.depth == 0:
            done = state.mode == _DONE
            signal.signal(signal.SIGINT, signal.SIG_IGN if done and last else state.previous)
            held, state.pending = state.pending and not done, False
            state.mode = _DEFER
    if held:
        raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """Let SIGINT raise at once inside (an interrupt held back so far raises on entry)."""
    state = _state
    if not _main_thread() or state.depth == 0 or state.mode == _DONE:
        yield
        return
    poll()
    state.mode = _RAISE
    try:
        yield
    finally:
        if state.mode == _RAISE:
            state.mode = _DEFER


def poll() -> None:
    """Raise KeyboardInterrupt here if SIGINT came while it was held back."""
    state = _state
    if state.pending and state.mode == _DEFER and _main_thread():
        state.pending = False
        raise KeyboardInterrupt


def completed() -> None:
    """The write is done: an interrupt from now to the outermost guarded()'s end is dropped."""
    if _state.depth and _main_thread():
        _state.mode = _DONE
