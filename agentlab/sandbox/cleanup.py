"""Last-resort cleanup of live sandboxes on SIGINT, SIGTERM and interpreter exit.

``async with backend.open(...)`` already removes its sandbox on normal exit, exceptions and
task cancellation. This registry covers the cases where that code never runs: a signal that
would kill the process outright (SIGTERM's default action) and ``atexit``. The handler removes
every registered sandbox, then restores the previous handler and delivers the signal again, so
the process still ends (or raises KeyboardInterrupt) exactly as it would have.

Two races are closed here. A sandbox is registered *before* its container is created, and the
thread creating it says so (:func:`begin_create`) and reports back (:func:`settle`): a create
still in flight when shutdown removes everything removes its own container as soon as it
exists, and :func:`remove_all` waits for those creates before it returns (so a SIGTERM cannot
kill the process in between).
And once a signal started the shutdown, the event loops that owned sandboxes start no new
ones (:func:`register` refuses), so a retry after its container vanished cannot leave a fresh
container behind. A fresh event loop (a new ``asyncio.run``) may start sandboxes again.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

# Re-entrant: the signal handler runs on the main thread, possibly while it holds the lock.
_cond = threading.Condition(threading.RLock())
_live: dict[str, tuple[Callable[[], None], asyncio.AbstractEventLoop | None]] = {}
_creating: set[str] = set()
_doomed: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_installed = False
_previous: dict[int, object] = {}
# How long shutdown waits for creates already in flight before giving up on them.
CREATE_WAIT_S = 60.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def register(key: str, remove: Callable[[], None]) -> bool:
    """Remember a blocking ``remove`` callback for a sandbox about to be (or already) live.

    Returns False (and registers nothing) when a signal already began shutting this event
    loop down: the caller must not start a sandbox.
    """
    loop = _running_loop()
    with _cond:
        if loop is not None and loop in _doomed:
            return False
        _live[key] = (remove, loop)
    _install()
    return True


def begin_create(key: str) -> bool:
    """The calling thread is about to create ``key``'s container; False if it must not.

    After True, call :func:`settle` once the create ended, however it ended.
    """
    with _cond:
        if key not in _live:
            return False  # shutdown (or the owner) already gave it up
        _creating.add(key)
        return True


def settle(key: str) -> bool:
    """The create for ``key`` ended (blocking; call from the creating thread).

    Returns True if the sandbox is still wanted. If shutdown removed it meanwhile, its
    container is removed here, before shutdown is told the create is over, and False returned.
    """
    with _cond:
        wanted = key in _live
        remove = None if wanted else _orphans.pop(key, None)
    try:
        if remove is not None:
            remove()
    except Exception as exc:
        log.warning("could not remove sandbox %s: %s", key, exc)
    finally:
        with _cond:
            _creating.discard(key)
            _cond.notify_all()
    return wanted


# Removal callbacks of creates still in flight when shutdown took them off the live list.
_orphans: dict[str, Callable[[], None]] = {}


def unregister(key: str) -> None:
    """Forget a sandbox that was cleaned up the ordinary way."""
    with _cond:
        _live.pop(key, None)


def live() -> list[str]:
    """Keys of the sandboxes still registered (for tests and diagnostics)."""
    with _cond:
        return list(_live)


def remove_all(*, doom: bool = True) -> None:
    """Remove every registered sandbox now; errors are logged, never raised.

    With ``doom`` the event loops that owned them (and the running one) start no new
    sandboxes afterwards. Returns only after creates in flight have settled (bounded).
    """
    with _cond:
        pending = list(_live.items())
        _live.clear()
        if doom:
            loops = [owner for _, (_remove, owner) in pending] + [_running_loop()]
            for loop in loops:
                if loop is not None:
                    _doomed.add(loop)
        for key, (remove, _loop) in pending:
            if key in _creating:
                _orphans[key] = remove  # its thread removes it once the container exists
    for key, (remove, _loop) in pending:
        try:
            remove()
        except Exception as exc:  # cleanup must go on with the others
            log.warning("could not remove sandbox %s: %s", key, exc)
    end = time.monotonic() + CREATE_WAIT_S
    with _cond:
        while _creating and (left := end - time.monotonic()) > 0:
            _cond.wait(left)
        if _creating:
            log.warning("shutdown: %d sandbox create(s) did not settle", len(_creating))


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
