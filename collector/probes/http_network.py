"""The http probe's sockets: an httpcore network backend on asyncio's own streams.

httpcore reaches the network through a pluggable backend; its default goes through anyio,
whose cancel scopes, checkpoints and happy-eyeballs task group cost about as much CPU as
the whole request does on a near target (one loopback request through httpcore: 1.4 ms of
CPU on asyncio streams, 2.4 ms through anyio). None of that buys the probe anything: it
connects to the one address it resolved itself, bounds the attempt with its own asyncio
deadline, and runs on asyncio only. So each operation here is one awaited asyncio call
under its own timeout, and errors leave as httpcore's exceptions with the OSError or
SSLError as their cause, as the anyio backend raises them, so `http_exchange.classify`
sees the same chain.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
"""What httpcore passes as `socket_options` (its `SOCKET_OPTION`)."""


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, plain or (after `start_tls`) TLS, as an asyncio reader and writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close without waiting for the peer: every attempt sends `Connection: close`, and
        a TLS close_notify needs no answer."""
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._writer.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError is an OSError
            self._writer.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        transport = self._writer.transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            return _readable(transport.get_extra_info("socket"))
        return None


def _readable(sock: socket.socket | None) -> bool:
    """Whether an idle connection has data or EOF waiting (httpcore asks before reusing
    one). poll, not select: a daemon with thousands of sockets has descriptors past 1024."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections for httpcore, straight from asyncio."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = writer.transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the http probe connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ProbeTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and exception mapping) over `AsyncioBackend`.

    httpx takes no network backend, so the pool it built is replaced by one with the same
    settings and ours; `_pool` is where httpx's transport has kept its pool since 0.18.
    tests/test_http_network.py fails if an attempt stops going through `AsyncioBackend`.
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, limits=NO_KEEPALIVE, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=NO_KEEPALIVE.max_connections,
            max_keepalive_connections=NO_KEEPALIVE.max_keepalive_connections,
            network_backend=AsyncioBackend(),
        )


NO_KEEPALIVE = httpx.Limits(max_connections=None, max_keepalive_connections=0)
"""Every attempt opens, times and closes its own connection (see `http_client`)."""
