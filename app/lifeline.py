"""Child processes that end with their server, however it ends (SIGKILL, the OOM killer).

Two guards, both needed: on Linux the kernel sends the child SIGKILL the moment the
server dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a watchdog thread polls the
parent's pid and calls ``os._exit``, which cannot hang the way a normal exit can (a
multiprocessing queue's feeder thread blocked writing a full pipe that nobody reads).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

#: prctl option: the signal this process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def _kill_on_parent_death() -> None:
    """Ask the kernel to SIGKILL this process when its parent thread exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc to ask: the watchdog still guards
        pass


def _watch(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Make this (child) process end within ``interval`` s of ``parent``'s death."""
    # NOTE: PR_SET_PDEATHSIG fires when the *thread* that started us exits, so it is only
    # set for children of the server's long-lived threads (the event loop, the pump).
    _kill_on_parent_death()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)
    threading.Thread(target=_watch, args=(parent, interval), daemon=True, name="lifeline").start()
