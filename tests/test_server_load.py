"""The exporter's server under a burst of scrapes and against clients that vanish mid-request.

The burst goes to a real `slawitness serve` over a real store; the vanishing clients to the
same server run in this process, so that its log and stderr can be read while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.prometheus.server import ACCEPT_BACKLOG, ExporterServer
from collector.prometheus.state import StoreFollower
from tests.clirun import slawitness, write_config
from tests.exporter_process import exporter
from tests.rig.loopback import TcpListener

BURST = 500
REQUEST_TIMEOUT_S = 60.0
"""Generous: the burst takes about a second; socketserver's old accept queue of 5 left a
third of it unanswered after 30 s."""


@pytest.fixture
def served_config(tmp_path: Path, tcp_listener: TcpListener) -> Path:
    """A config of one target with one tcp probe, and a store holding one round of it."""
    config = write_config(
        tmp_path,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {"name": "ssh", "kind": "tcp", "port": tcp_listener.port, "timeout": "1s"}
                ],
            }
        ],
    )
    assert slawitness("probe", "--config", str(config)).returncode == 0
    return config


async def _burst(url: str, count: int) -> list[int | str]:
    """`count` scrapes at once, each on its own connection: status codes or error names."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def scrape() -> int | str:
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return response.status_code if "probe_success" in response.text else "no series"

        return await asyncio.gather(*(scrape() for _ in range(count)))


def test_a_burst_of_500_scrapes_is_answered(served_config: Path) -> None:
    with exporter("serve", served_config) as url:
        answers = asyncio.run(_burst(url + "/metrics", BURST))
        assert Counter(answers) == {200: BURST}
        assert httpx.get(url + "/metrics").status_code == 200  # and it is still serving


TCPI_SACKED = struct.calcsize("8B5I")
"""Where Linux's `struct tcp_info` has `tcpi_sacked`, which for a listening socket holds
its accept queue's length, the backlog `listen()` was given (capped at somaxconn)."""


def test_the_listening_socket_has_the_long_accept_queue(
    in_process_server: ExporterServer,
) -> None:
    """The burst above passes only with a long queue; this reads the queue's length back
    from the kernel, so a server that stops passing it to `listen()` fails by name."""
    info = in_process_server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    (backlog,) = struct.unpack_from("I", info, TCPI_SACKED)
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert backlog == min(ACCEPT_BACKLOG, somaxconn) > 5


class _Lines(logging.Handler):
    """Every formatted record of a logger, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


@pytest.fixture
def exporter_log() -> Iterator[_Lines]:
    """What the exporter logs, at debug level."""
    logger = logging.getLogger("slawitness.exporter")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def in_process_server(served_config: Path) -> Iterator[ExporterServer]:
    """The `serve` exporter over the served store, in this process, on a free port."""
    config = load_config(served_config)
    with EvidenceStore.open(config.store, readonly=True) as reader:
        server = ExporterServer("127.0.0.1:0", StoreFollower(config, reader).snapshot)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _send_and_reset(port: int, request: bytes) -> None:
    """Send `request`, then close with SO_LINGER 0: the kernel answers the server with RST."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # reset before the headers end
        b"GET /",
    ],
    ids=["whole request", "half the headers", "half a request line"],
)
def test_a_client_that_resets_leaves_one_debug_line_and_no_traceback(
    in_process_server: ExporterServer,
    exporter_log: _Lines,
    capsys: pytest.CaptureFixture[str],
    request_bytes: bytes,
) -> None:
    port = int(in_process_server.server_address[1])
    resets = 10
    for _ in range(resets):
        _send_and_reset(port, request_bytes)
    deadline = time.monotonic() + 10
    while len(exporter_log.lines) < resets and time.monotonic() < deadline:
        time.sleep(0.02)
    assert httpx.get(in_process_server.url + "/metrics").status_code == 200
    gone = [line for line in exporter_log.lines if "closed the connection early" in line]
    assert len(gone) == resets, exporter_log.lines
    assert all("\n" not in line for line in exporter_log.lines)
    assert "Traceback" not in capsys.readouterr().err


def test_a_failure_of_ours_is_still_logged_with_its_traceback(
    exporter_log: _Lines, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only vanished clients are quiet: a snapshot that raises is a bug, and says where."""

    def broken() -> None:
        raise RuntimeError("snapshot exploded")

    server = ExporterServer("127.0.0.1:0", broken)  # type: ignore[arg-type]
    server.start()
    try:
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url + "/metrics", timeout=5)
    finally:
        server.stop()
    [line] = [line for line in exporter_log.lines if "failed" in line]
    assert "Traceback" in line and "snapshot exploded" in line
