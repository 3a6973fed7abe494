"""The http probe's asyncio network backend, on real loopback sockets.

tests/test_http.py proves the probe's behaviour (phases, TLS, faults and their error
classes) through this backend; these tests pin what it promises on its own: every attempt
really goes through it, an error keeps its OSError as the cause, and httpcore's
"has the peer closed this idle connection?" question gets a true answer for any
descriptor number.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
from collections.abc import Iterator

import httpcore
import pytest

from collector.probes import http
from collector.probes.http import HttpSpec
from collector.probes.http_network import AsyncioBackend, _readable
from tests.rig.loopback import HttpFaultServer, closed_port, run_probe


def test_every_attempt_connects_through_the_asyncio_backend(
    http_server: HttpFaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[tuple[str, int]] = []
    real_connect = AsyncioBackend.connect_tcp

    async def counted(self: AsyncioBackend, host: str, port: int, **options: object):  # type: ignore[no-untyped-def]
        connects.append((host, port))
        return await real_connect(self, host, port, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(AsyncioBackend, "connect_tcp", counted)
    spec = HttpSpec.model_validate(
        {"name": "web", "kind": "http", "url": http_server.url("/ok"), "timeout": "2s"}
    )
    results = run_probe(http.probe, "ignored.example", spec, times=2)
    assert [result.ok for result in results] == [True, True]
    assert connects == [("127.0.0.1", http_server.port)] * 2
    assert http_server.connections == 2


def test_a_refused_connect_keeps_the_os_error_as_its_cause() -> None:
    async def connect() -> None:
        await AsyncioBackend().connect_tcp("127.0.0.1", closed_port(), timeout=2)

    with pytest.raises(httpcore.ConnectError) as caught:
        asyncio.run(connect())
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@contextlib.contextmanager
def _listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server
    finally:
        server.close()


def test_an_idle_connection_turns_readable_when_the_peer_closes() -> None:
    async def check() -> tuple[bool, bool]:
        with _listener() as server:
            host, port = server.getsockname()
            stream = await AsyncioBackend().connect_tcp(host, port, timeout=2)
            peer, _ = server.accept()
            idle = stream.get_extra_info("is_readable")
            peer.close()
            await asyncio.sleep(0.05)  # the FIN crosses loopback
            closed = stream.get_extra_info("is_readable")
            await stream.aclose()
            return idle, closed

    assert asyncio.run(check()) == (False, True)


def test_readable_works_past_descriptor_1024() -> None:
    """select() cannot watch a descriptor past FD_SETSIZE; a daemon with 1,000 http probes
    and an ICMP socket per family gets there."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    high = 1500
    if hard != resource.RLIM_INFINITY and hard <= high:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} leaves no descriptor past 1024 to test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, high + 1), hard))
    try:
        with _listener() as server:
            client = socket.create_connection(server.getsockname())
            peer, _ = server.accept()
            moved = socket.socket(fileno=os.dup2(client.fileno(), high))
            client.close()
            try:
                assert moved.fileno() == high
                assert _readable(moved) is False
                peer.sendall(b"x")
                moved.settimeout(2)
                assert moved.recv(1, socket.MSG_PEEK) == b"x"
                assert _readable(moved) is True
            finally:
                moved.close()
                peer.close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
