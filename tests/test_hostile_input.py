"""Hostile input gets one clear line, never a traceback, and never a probe of a stranger.

Hypothesis generates config files, JSONL import files and `/probe` query strings: valid
ones mutated, and arbitrary ones. The config loader and the importer must either accept the
input or raise their own error, whose every line is one line naming the file; the importer
must append nothing from a bad file; `/probe` must answer an unknown target with 400 and
never connect anywhere it was not configured to. `pytest --slow` tries ten times as many.
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.config.loader import ConfigError, load_config
from collector.config.model import Config, Target
from collector.core.durations import format_duration
from collector.evidence.importer import ImportFileError, import_jsonl
from collector.evidence.store import EvidenceStore
from tests.clirun import write_config
from tests.exporter_process import exporter as running
from tests.rig.loopback import TcpListener

VALID: dict[str, Any] = {
    "vantage": "office",
    "store": "evidence.db",
    "targets": [{
        "name": "vps1", "host": "127.0.0.1",
        "probes": [{"name": "ssh", "kind": "tcp", "port": 22, "interval": "60s"},
                   {"name": "web", "kind": "http", "url": "http://127.0.0.1/health"}],
        "sla": {"uptime": 99.9, "downtime": {"probes": "any", "min_duration": "5m"},
                "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 40,
                "currency": "USD"},
    }],
    "controls": [{"name": "resolver", "host": "127.0.0.2",
                  "probes": [{"name": "ping", "kind": "icmp"}]}],
}  # fmt: skip
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=20) | st.sampled_from(["60s", "-1s", "0s", "1e9h", "nan", "${NOPE}"])
    | st.sampled_from([float("inf"), 1e30, 10**18, "1e308", True, "-x", "a\r\nb: c", 99999])
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a nested dict/list."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from paths(value, (*prefix, index))


ALL_PATHS = list(paths(VALID))[1:]


def _parent(tree: Any, where: tuple[Any, ...]) -> Any:
    """The container holding the value at `where`, or None once earlier edits moved it."""
    for step in where[:-1]:
        try:
            tree = tree[step]
        except (IndexError, KeyError, TypeError):
            return None
    return tree if isinstance(tree, dict | list) else None


@st.composite
def mutated_configs(draw: st.DrawFn) -> str:
    """The valid config with a few values replaced, keys dropped or added, as YAML text."""
    tree = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(ALL_PATHS))
        parent, key = _parent(tree, where), where[-1]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if isinstance(parent, list):
            if isinstance(key, int) and key < len(parent):
                parent[key] = draw(values)
        elif isinstance(parent, dict):
            if action == "replace":
                parent[key] = draw(values)
            elif action == "drop":
                parent.pop(key, None)
            else:
                parent[draw(st.text(max_size=8))] = draw(values)
    return yaml.safe_dump(tree, allow_unicode=True)


def assert_one_line_each(error: ConfigError, path: Path) -> None:
    assert error.lines
    for line in error.lines:
        assert "\n" not in line and line.startswith(str(path)), line


def check_config_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "slawitness.yml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(path)
        except ConfigError as error:
            assert_one_line_each(error, path)
        else:
            assert isinstance(config, Config)
            assert_usable(config)


def assert_usable(config: Config) -> None:
    """What check-config and a round do with a loaded config must not fail: `.inf` and
    `1e30` once passed the loader and crashed here."""
    for host in config.hosts():
        for probe in host.probes:
            for seconds in (probe.interval, probe.timeout, probe.attempt_budget()):
                format_duration(seconds)
                assert 0 < int(seconds * 1e9) < 2**63
        if isinstance(host, Target) and host.sla is not None:
            fee = host.sla.monthly_fee
            assert fee is None or fee.is_finite()


@EXAMPLES
@given(mutated_configs())
def test_mutated_configs_load_or_fail_in_one_line_each(figures: Counter[str], text: str) -> None:
    check_config_text(text)
    figures["fuzz: config files tried"] += 1


@EXAMPLES
@given(st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
@example("\x1f")  # a reader error: PyYAML's message had two lines
@example("a: [\n")
@example("? '\n\n  '\n: null\nvantage: x\n")  # a key of newlines: was a two-line error
@example("vantage: x\ntargets: " + "[" * 5000 + "]" * 5000)  # was a RecursionError
@example("vantage: x\nn: " + "9" * 5000)  # was Python's int-to-string ValueError
def test_arbitrary_files_as_config_fail_in_one_line(figures: Counter[str], text: str) -> None:
    check_config_text(text)
    figures["fuzz: config files tried"] += 1


@pytest.fixture(scope="module")
def import_rig(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    folder = tmp_path_factory.mktemp("import")
    config = load_config(write_config(folder, VALID["targets"], VALID["controls"]))
    EvidenceStore.create(folder / "evidence.db").close()
    return config, folder


LINE = {
    "ts": "2026-10-03T04:05:00+08:00", "target": "vps1", "probe": "web", "kind": "http",
    "role": "target", "ok": False, "latency_s": None, "loss": None, "error": "timeout",
}  # fmt: skip


@st.composite
def import_files(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        line: dict[str, Any] = dict(LINE)
        for key in draw(st.lists(st.sampled_from([*LINE, "ts_ns", "vantage", "detail", "x"]),
                                 max_size=3)):  # fmt: skip
            line[key] = draw(values)
        lines.append(json.dumps(line, default=str).encode())
    if draw(st.booleans()):
        lines.append(draw(st.binary(max_size=40)))
    return b"\n".join(lines) + b"\n"


@EXAMPLES
@given(import_files())
@example(json.dumps({**LINE, "kind": []}).encode())  # crashed: a list is not hashable
@example(json.dumps({**LINE, "error": {"a": 1}}).encode())
def test_hostile_import_files_append_nothing_or_everything(
    import_rig: tuple[Config, Path], figures: Counter[str], data: bytes
) -> None:
    figures["fuzz: import files tried"] += 1
    config, folder = import_rig
    source = folder / "input.jsonl"
    source.write_bytes(data)
    with EvidenceStore.open(folder / "evidence.db") as store:
        before = store.count()
        try:
            report = import_jsonl(source, store, config)
        except ImportFileError as error:
            message = str(error)
            assert "\n" not in message and message.startswith(str(source)), message
            assert store.count() == before  # a bad file appends nothing
        else:
            assert store.count() >= before and report.imported >= 0
        assert store.verify().ok


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TcpListener]]:
    """`slawitness serve` over a config of one loopback target, and a canary listener that
    no /probe call may ever reach."""
    folder = tmp_path_factory.mktemp("serve")
    canary = TcpListener().start()
    target = TcpListener().start()
    config = write_config(folder, [{"name": "vps1", "host": "127.0.0.1", "probes": [
        {"name": "ssh", "kind": "tcp", "port": target.port, "timeout": "1s"}]}])  # fmt: skip
    with running("serve", config) as url:
        yield url, canary
    canary.stop()
    target.stop()


@EXAMPLES
@given(
    target=st.text(max_size=30) | st.sampled_from(["127.0.0.1", "localhost:1", "vps1 ", "../vps1"]),
    probe=st.none() | st.text(max_size=20) | st.just("ssh"),
    extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
)
def test_probe_parameters_never_probe_a_stranger(
    exporter: tuple[str, TcpListener],
    target: str,
    probe: str | None,
    extra: dict[str, str],
    figures: Counter[str],
) -> None:
    figures["fuzz: /probe queries tried"] += 1
    url, canary = exporter
    params = {**extra, "target": target, **({} if probe is None else {"probe": probe})}
    answer = httpx.get(f"{url}/probe?{urllib.parse.urlencode(params)}", timeout=30)
    assert "Traceback" not in answer.text
    if target != "vps1":
        assert answer.status_code == 400, (params, answer.status_code, answer.text)
        assert len(answer.text.strip().splitlines()) == 1
    assert answer.status_code in (200, 400, 429)  # 429: vps1/ssh ran on demand just now
    assert canary.connections == 0
