"""One `add-checkpoint` exchange with a C2SP tlog-witness, answered as data, never raised.

A witness is someone else's server: it may be down, slow, answer garbage or hang after
accepting the connection. The collector must record what happened and move on, so the
exchange returns an `Answer` (the status and a bounded body) or a `Failure` (why no answer
came), and nothing else escapes. httpx is imported here only: a collector without
`witnesses` configured never loads this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from collector.portable.witness_wire import ADD_CHECKPOINT

MAX_ANSWER_BYTES = 64 * 1024
"""A witness answers a size line or a few signature lines; anything longer is not one."""


@dataclass(frozen=True)
class Answer:
    """What the witness said: its HTTP status, Content-Type and body (at most 64 KiB)."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Failure:
    """No usable answer: the connection failed, the deadline passed, or it was too long."""

    reason: str


def add_checkpoint_url(prefix: str) -> str:
    """`<submission prefix>/add-checkpoint`, with or without a trailing slash on the prefix."""
    return prefix.rstrip("/") + "/" + ADD_CHECKPOINT


def send_add_checkpoint(prefix: str, body: bytes, timeout: float) -> Answer | Failure:
    """POST `body` to the witness at `prefix`; `timeout` bounds the whole exchange (httpx's
    own timeouts are per read, so a witness dripping a byte a second is cut off here)."""
    deadline = time.monotonic() + timeout
    url = add_checkpoint_url(prefix)
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            received = bytearray()
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) > MAX_ANSWER_BYTES:
                    return Failure(f"an answer longer than {MAX_ANSWER_BYTES} bytes")
                if time.monotonic() > deadline:
                    return Failure(f"no whole answer within {timeout:g} s")
            return Answer(response.status_code, content_type.lower(), bytes(received))
    except httpx.TimeoutException:
        return Failure(f"no answer within {timeout:g} s")
    except httpx.ConnectError as exc:
        return Failure(f"cannot connect ({exc or type(exc).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Failure(f"HTTP exchange failed ({type(exc).__name__}: {exc})")
