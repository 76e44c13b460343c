"""The ``modelexport`` program (``python -m modelexport`` runs the same).

Ctrl-C ends the program the way an interrupted command does wherever it lands: one line,
exit code 130, no traceback, no crash. :func:`run` loads the command line itself (so a
Ctrl-C while it loads is one of those), holds an interrupt back while a module imports,
and delivers again one that Python would drop.
"""

from __future__ import annotations

import _thread
import signal
import sys
from types import FrameType
from typing import Any


def run() -> None:
    """Run the command line with ``sys.argv``; the process's exit code is the command's."""
    sys.unraisablehook = _interrupt_again
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (not ignored)
        signal.signal(signal.SIGINT, _interrupt_unless_importing)
    try:
        from modelexport.cli import main

        main()  # ends by SystemExit, with the command's code
    except KeyboardInterrupt as e:  # before the commands' own handling is in place
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from e
    finally:
        _forget_caught_interrupts()


def _interrupt_unless_importing(_signum: int, frame: FrameType | None) -> None:
    """SIGINT: KeyboardInterrupt, or, while a module imports, the same once it has.

    An extension module's initialiser may not survive an exception raised in the middle
    of it (onnx's ended the process with SIGSEGV), and the commands import theirs when
    they start.
    """
    outermost = _outermost_import(frame)
    if outermost is None:
        raise KeyboardInterrupt

    def when_imported(frame: FrameType, event: str, _arg: object) -> None:
        if event == "return" and frame is outermost:
            sys.setprofile(after_it)

    def after_it(_frame: FrameType, _event: str, _arg: object) -> None:
        sys.setprofile(None)
        _thread.interrupt_main()  # raised in the code that asked for the import

    sys.setprofile(when_imported)


def _outermost_import(frame: FrameType | None) -> FrameType | None:
    """The import system's outermost frame in ``frame``'s stack, if it is importing."""
    found = None
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            found = frame
        frame = frame.f_back
    return found


def _interrupt_again(unraisable: Any) -> None:
    """Deliver again a Ctrl-C that Python could only print and drop.

    A KeyboardInterrupt raised inside a weakref callback or ``__del__`` (the import
    system runs one per module lock) cannot reach the program: Python prints "Exception
    ignored in ..." and goes on as if no Ctrl-C had come. Here the interrupt is sent to
    the main thread again, from another thread so that it lands after this hook has
    returned, in the program's own code: what a Ctrl-C a moment later would have done
    (and, should it land in such a callback again, it comes back here).
    """
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        _thread.start_new_thread(_thread.interrupt_main, ())
        return
    sys.__unraisablehook__(unraisable)


def _forget_caught_interrupts() -> None:
    """Let the exit code stand when a KeyboardInterrupt was caught and turned into one.

    CPython notes a KeyboardInterrupt that leaves code run by ``exec``/``eval`` of a
    string (dataclasses and typing make methods that way while modules import) and, in
    ``python -m``, ends the process by SIGINT at exit even when the program caught the
    interrupt and exits with 130. Running any string clears that note.
    """
    exec("")


if __name__ == "__main__":
    run()
