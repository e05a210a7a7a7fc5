"""Last-resort cleanup of live sandboxes on SIGINT, SIGTERM and interpreter exit.

``async with backend.open(...)`` already removes its sandbox on normal exit, exceptions and
task cancellation. This registry covers the cases where that code never runs: a signal that
would kill the process outright (SIGTERM's default action) and ``atexit``. The handler removes
every registered sandbox, then restores the previous handler and delivers the signal again, so
the process still ends (or raises KeyboardInterrupt) exactly as it would have.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

_lock = threading.Lock()
_live: dict[str, Callable[[], None]] = {}
_installed = False
_previous: dict[int, object] = {}


def register(key: str, remove: Callable[[], None]) -> None:
    """Remember a blocking ``remove`` callback for a live sandbox."""
    with _lock:
        _live[key] = remove
    _install()


def unregister(key: str) -> None:
    """Forget a sandbox that was cleaned up the ordinary way."""
    with _lock:
        _live.pop(key, None)


def live() -> list[str]:
    """Keys of the sandboxes still registered (for tests and diagnostics)."""
    with _lock:
        return list(_live)


def remove_all() -> None:
    """Remove every registered sandbox now; errors are logged, never raised."""
    with _lock:
        pending = list(_live.items())
        _live.clear()
    for key, remove in pending:
        try:
            remove()
        except Exception as exc:  # cleanup must go on with the others
            log.warning("could not remove sandbox %s: %s", key, exc)


def _handler(signum: int, frame: FrameType | None) -> None:
    remove_all()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        # Re-deliver with the default action so the exit status says "killed by signal".
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(remove_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still covers us
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
            continue
        _previous[signum] = previous
        signal.signal(signum, _handler)
