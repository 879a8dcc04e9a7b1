"""The one place dpo-tui imports llama-cpp-python: OpenMP is set up first, the log redirected.

llama.cpp's CPU threads meet at a barrier after every operation of the graph, and the OpenMP
runtime it is built with (libgomp) spins at those barriers for a long while (300,000 rounds)
before it sleeps. When other processes keep the cores busy, a spinning thread burns the time
the thread it waits for needs, and decoding collapses. Measured on this project's 2-core
machine, 2 threads: two llama.cpp processes side by side fell from 66 tok/s alone to 3-5 tok/s
each (25-26 tok/s each with passive waiting); under another developer's test load, 4 batched
candidates ran at 7-26 tok/s spinning and 25-43 tok/s waiting passively (33-43 tok/s on one
thread). When the machine was quiet, batched decoding ran at about the same speed either way.

So unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), dpo-tui sets
OMP_WAIT_POLICY=PASSIVE. libgomp reads it once, when llama.cpp is first loaded: this module must
be imported before anything else imports llama_cpp, and `passive_wait` says whether it was.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

user_wait_policy = bool({"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & os.environ.keys())
"""Whether the user set OpenMP's wait policy themselves."""

passive_wait = not user_wait_policy and "llama_cpp" not in sys.modules
"""Whether this module made OpenMP threads wait passively (false if the user chose, or if
llama_cpp was loaded before this module could)."""
if passive_wait:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import llama_cpp  # noqa: E402 (OMP_WAIT_POLICY must be set first)

_LOG_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]  # a ctypes callback type
def _log_to_logging(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log lines go to this module's logger (silent unless logging is set up)."""
    message = text.decode("utf-8", errors="replace").rstrip()
    if message:
        logger.log(_LOG_LEVELS.get(level, logging.DEBUG), "%s", message)


llama_cpp.llama_log_set(_log_to_logging, ctypes.c_void_p(0))
llama_cpp.llama_backend_init()  # once per process, before any model is loaded


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    """Threads for llama.cpp: every usable core when its threads wait passively (or the user
    chose how they wait), else one core fewer, so that spinning threads cannot starve one
    another when the machine is busy."""
    cores = usable_cores()
    return cores if passive_wait or user_wait_policy else max(1, cores - 1)


__all__ = ["default_threads", "llama_cpp", "passive_wait", "usable_cores", "user_wait_policy"]
