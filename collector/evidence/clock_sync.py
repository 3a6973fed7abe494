"""Whether the kernel's clock was synchronised, read with adjtimex(2) in read-only mode.

A provider can answer a complaint with "your clock was wrong". Each record therefore says
whether the clock was synchronised (NTP, chrony, PTP discipline it through the kernel) when
it was taken, and the collector's round and heartbeat records add the kernel's estimate of
the offset and the maximum error. Reading needs no privilege (modes = 0 changes nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from typing import Any

_TIME_ERROR = 5
"""adjtimex's return value when the clock is not synchronised."""
_STA_UNSYNC, _STA_NANO = 0x0040, 0x2000


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h> (Linux, LP64 and ILP32 alike: longs and ints)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def _adjtimex() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.adjtimex
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.POINTER(_Timex)]
    function.restype = ctypes.c_int
    return function


_ADJTIMEX = _adjtimex()


@dataclass(frozen=True)
class ClockState:
    """The kernel's view of its clock; None everywhere when it cannot be read."""

    synced: bool | None
    offset_ns: int | None
    max_error_ns: int | None


UNKNOWN = ClockState(None, None, None)


def read_clock_state() -> ClockState:
    """The clock's state now (one system call)."""
    if _ADJTIMEX is None:
        return UNKNOWN
    timex = _Timex()  # modes = 0: read only
    state = _ADJTIMEX(ctypes.byref(timex))
    if state < 0:
        return UNKNOWN
    synced = state != _TIME_ERROR and not timex.status & _STA_UNSYNC
    offset_unit = 1 if timex.status & _STA_NANO else 1_000
    return ClockState(synced, timex.offset * offset_unit, timex.maxerror * 1_000)
