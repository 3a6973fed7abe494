"""Hostile input, case by case: one line on stderr, exit 2, and the store as it was.

Each case is an input that once crashed slawitness (a segfault, a RecursionError, an
OverflowError reported as "internal error", exit 70), ran it out of memory, or passed
`check-config` only to fail at probe time, where our mistake would have been recorded as
the provider's failure. The CLI runs in-process (click's runner); only the YAML nested
100,000 deep runs in a child process, because a segfault can only be seen from outside.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.base import EXIT_CLOSED_OUTPUT
from cli.main import cli, main
from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness
from tests.diagnoses_settled import settled_diagnoses
from tests.rig.loopback import closed_port

TARGET: dict[str, Any] = {
    "name": "vps1", "host": "127.0.0.1",
    "probes": [{"name": "ssh", "kind": "tcp", "port": 0, "interval": "60s", "timeout": "1s"}],
    "sla": {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 40,
            "currency": "USD", "claim_window_days": 30},
}  # fmt: skip
LINE: dict[str, Any] = {
    "ts": "2026-10-03T04:05:00+08:00", "target": "vps1", "probe": "ssh", "ok": False,
    "latency_s": None, "loss": None, "error": "timeout",
}  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    """`slawitness ARGS` in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config, a store with a round, a signed checkpoint and a proof of seq 1."""
    folder = tmp_path_factory.mktemp("hostile")
    target = json.loads(json.dumps(TARGET))
    target["probes"][0]["port"] = closed_port()
    config = {"vantage": "office", "store": "evidence.db", "targets": [target]}
    (folder / "slawitness.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    conf = str(folder / "slawitness.yml")
    for args in (["init", "--key-only"], ["probe"], ["checkpoint"]):
        assert run(*args, "--config", conf)[0] == 0
        if args == ["probe"]:  # the closed port's trace lands later, from a detached process
            settled_diagnoses(folder / "evidence.db")
    assert run("prove", "--config", conf, "--seq", "1", "--out", str(folder / "proof.json"))[0] == 0
    return folder


def store_state(folder: Path) -> tuple[int, str | None]:
    with EvidenceStore.open(folder / "evidence.db", readonly=True) as store:
        head = store.head()
        return store.count(), None if head is None else head.hash


# --- the inputs ---------------------------------------------------------------------------


def config_with(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], list[str]]:
    """`probe` with the fixture's config changed by `edit`: refused before any probe."""

    def write(folder: Path) -> list[str]:
        config = yaml.safe_load((folder / "slawitness.yml").read_text())
        edit(config)
        path = folder / "hostile.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return ["probe", "--config", str(path)]

    return write


def config_text(text: str) -> Callable[[Path], list[str]]:
    """`probe` with a config of this YAML text (the store line added in front)."""

    def write(folder: Path) -> list[str]:
        path = folder / "hostile.yml"
        path.write_text("store: evidence.db\n" + text, encoding="utf-8")
        return ["probe", "--config", str(path)]

    return write


def probe_key(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["targets"][0]["probes"][0].update({key: value})


def sla_key(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["targets"][0]["sla"].update({key: value})


def http_probe(**extra: object) -> Callable[[dict[str, Any]], None]:
    probe = {"name": "web", "kind": "http", "url": "http://127.0.0.1:9/", **extra}
    return lambda config: config["targets"][0]["probes"].append(probe)


def top_key(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda config: config.update({key: value})


def import_lines(*lines: bytes | dict[str, Any]) -> Callable[[Path], list[str]]:
    """`import` of a JSON-lines file of these lines (dicts are dumped as JSON)."""

    def write(folder: Path) -> list[str]:
        path = folder / "hostile.jsonl"
        raw = [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
        path.write_bytes(b"\n".join(raw) + b"\n")
        return ["import", "--config", str(folder / "slawitness.yml"), str(path)]

    return write


def line(**changes: object) -> dict[str, Any]:
    return {**LINE, **changes}


def proof_replacing(old: str, new: str) -> Callable[[Path], list[str]]:
    """`check-proof` of the fixture's proof with one piece of its text replaced."""

    def write(folder: Path) -> list[str]:
        text = (folder / "proof.json").read_text()
        assert old in text
        (folder / "hostile.json").write_text(text.replace(old, new, 1))
        conf = str(folder / "slawitness.yml")
        return ["check-proof", str(folder / "hostile.json"), "--config", conf]

    return write


def verb(*args: str) -> Callable[[Path], list[str]]:
    """A verb with the fixture's config; `{dir}` in an argument is the fixture's folder."""
    return lambda folder: [
        *(a.replace("{dir}", str(folder)) for a in args),
        "--config",
        str(folder / "slawitness.yml"),
    ]


@dataclass(frozen=True)
class Case:
    name: str
    command: Callable[[Path], list[str]]
    says: str
    """A piece of the one line that must be printed."""


CASES = [
    # the config: values that used to crash later, or fail only when probed
    Case("interval .inf", config_with(probe_key("interval", float("inf"))), "at most 366d"),
    Case("interval 1.0e30", config_with(probe_key("interval", 1e30)), "at most 366d"),
    Case("interval 1e9h", config_with(probe_key("interval", "1e9h")), "expected a duration"),
    Case("timeout NaN", config_with(probe_key("timeout", float("nan"))), "expected a duration"),
    Case("port 99999", config_with(probe_key("port", 99999)), "less than or equal to 65535"),
    Case("port true", config_with(probe_key("port", True)), "valid integer"),
    Case("port of 5000 digits", config_with(probe_key("port", int("9" * 4000))), "too long"),
    Case(
        "claim_window_days 1e18",
        config_with(sla_key("claim_window_days", "1e18")),
        "claim_window_days: input should be a valid integer",
    ),
    Case(
        "claim_window_days 10**18",
        config_with(sla_key("claim_window_days", 10**18)),
        "less than or equal to 3660",
    ),
    Case(
        "monthly_fee 1e308",
        config_with(sla_key("monthly_fee", "1e308")),
        "less than or equal to 1000000000000",
    ),
    Case(
        "monthly_fee 1.0e308",
        config_with(sla_key("monthly_fee", 1e308)),
        "monthly_fee: input should be less than or equal to",
    ),
    Case("monthly_fee NaN", config_with(sla_key("monthly_fee", float("nan"))), "finite"),
    Case("uptime true", config_with(sla_key("uptime", True)), "valid number"),
    Case(
        "uptime .inf",
        config_with(sla_key("uptime", float("inf"))),
        "uptime: input should be a finite number",
    ),
    Case(
        "host -oProxyCommand",
        config_with(lambda c: c["targets"][0].update(host="-oProxyCommand=x")),
        "not an IP address",
    ),
    Case("url host -x", config_with(http_probe(url="http://-x.example/")), "not an IP address"),
    Case(
        "CR/LF in a header value",
        config_with(http_probe(headers={"X-Token": "a\r\nX-Injected: 1"})),
        "line break",
    ),
    Case(
        "LF in a header name", config_with(http_probe(headers={"X-Token\n": "a"})), "cannot be set"
    ),
    Case("LF after a method", config_with(http_probe(method="GET\n")), "not an HTTP method"),
    Case(
        "checkpoints.every 0s",
        config_with(top_key("checkpoints", {"every": "0s"})),
        "greater than 0",
    ),
    Case(
        "notifications.timeout 0s",
        config_with(top_key("notifications", {"urls": ["json://127.0.0.1:9/"], "timeout": "0s"})),
        "greater than 0",
    ),
    Case(
        "resolver port 99999",
        config_with(top_key("diagnostics", {"resolver": "1.1.1.1:99999"})),
        "from 1 to 65535",
    ),
    Case(
        "resolver 999.1.1.1",
        config_with(top_key("diagnostics", {"resolver": "999.1.1.1"})),
        "not an IPv4 address",
    ),
    Case(
        "YAML nested 20,000 deep",
        config_text("vantage: x\ntargets: " + "[" * 20_000 + "]" * 20_000 + "\n"),
        "deeper than 64",
    ),
    Case(
        "YAML aliases expanding to 10^9 values",
        config_text(
            "vantage: x\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                for i in range(9)
            )
        ),
        "aliases expanded",
    ),
    Case(
        "YAML integer of 5000 digits",
        config_text("vantage: x\nn: " + "9" * 5000 + "\n"),
        "5000 digits",
    ),
    # import lines
    Case(
        "import latency_s 1e308",
        import_lines(line(ok=True, error=None, latency_s=1e308)),
        "latency_s: must be between 0 and 86400",
    ),
    Case(
        "import latency_s Infinity",
        import_lines(json.dumps(line(ok=True, error=None, latency_s=float("inf"))).encode()),
        "Infinity",
    ),
    Case("import year 1", import_lines(line(ts="0001-01-01T00:00:00Z")), "1970-01-01"),
    Case(
        "import year 1 at +23:59", import_lines(line(ts="0001-01-01T00:00:00+23:59")), "1970-01-01"
    ),
    Case("import year 9999", import_lines(line(ts="9999-12-31T23:59:59Z")), "2199-12-31"),
    Case(
        "import ts_ns of 30 digits",
        import_lines(
            json.dumps({**{k: v for k, v in LINE.items() if k != "ts"}, "ts_ns": 0})
            .replace('"ts_ns": 0', '"ts_ns": ' + "9" * 30)
            .encode()
        ),
        "ts_ns: " + "9" * 30 + " is outside the dates evidence can carry",
    ),
    Case(
        "import number of 5000 digits",
        import_lines(
            json.dumps(line(detail={"n": 0})).replace('"n": 0', '"n": ' + "9" * 5000).encode()
        ),
        "5000 characters",
    ),
    Case("import detail integer past 64 bits", import_lines(line(detail={"n": 2**64})), "64 bits"),
    Case(
        "import deep detail",
        import_lines(
            json.dumps(line(detail={"a": 0}))
            .replace('"a": 0', '"a": ' + "[" * 500 + "]" * 500)
            .encode()
        ),
        "deeper than 32",
    ),
    Case("import lone surrogate", import_lines(line(detail={"x": "\ud800"})), "surrogate"),
    Case("import lone surrogate key", import_lines(line(detail={"\udfff": 1})), "surrogate"),
    Case(
        "import target with a newline",
        import_lines(line(target="vps1\n", kind="tcp", role="target")),
        "target: must be a name of letters, digits",
    ),
    Case("import a line of 1 MiB", import_lines(b"[" + b" " * 2**20 + b"]"), "64 KiB"),
    Case(
        "import /dev/zero",
        lambda folder: ["import", "--config", str(folder / "slawitness.yml"), "/dev/zero"],
        "64 MiB",
    ),
    # proof files
    Case(
        "proof seq of 5000 digits",
        proof_replacing('"seq": 1', '"seq": ' + "9" * 5000),
        "5000 characters",
    ),
    Case(
        "proof tree_size 1e400",
        proof_replacing('"tree_size": ', '"tree_size": 1e400, "x": '),
        "too large",
    ),
    Case(
        "proof nested 100,000 deep",
        proof_replacing(
            '"tree_size": ', '"x": ' + "[" * 100_000 + "]" * 100_000 + ', "tree_size": '
        ),
        "deeper than 32",
    ),
    Case("proof NaN", proof_replacing('"tree_size": ', '"x": NaN, "tree_size": '), "NaN"),
    # dates and numbers on the command line
    Case("seal --period 9999-12", verb("seal", "--period", "9999-12"), "2199-12-31"),
    Case("seal --period 0001-01", verb("seal", "--period", "0001-01"), "1970-01-01"),
    Case("export --since 0001-01-01", verb("export", "--since", "0001-01-01"), "1970-01-01"),
    Case(
        "export --until 9999-12-31-05:00",
        verb("export", "--until", "9999-12-31T23:59-05:00"),
        "2199-12-31",
    ),
    Case(
        "report over 130 years",
        verb(
            "report",
            "--target",
            "vps1",
            "--from",
            "1900-01-01",
            "--to",
            "2030-01-01",
            "--format",
            "json",
            "--out",
            "{dir}/report",
        ),
        "1970-01-01",
    ),
    Case(
        "report over 50 years",
        verb(
            "report",
            "--target",
            "vps1",
            "--from",
            "1980-01-01",
            "--to",
            "2030-01-01",
            "--format",
            "json",
            "--out",
            "{dir}/report",
        ),
        "longer than 366 days",
    ),
    Case(
        "report --period 0001-01",
        verb(
            "report",
            "--target",
            "vps1",
            "--period",
            "0001-01",
            "--format",
            "json",
            "--out",
            "{dir}/report",
        ),
        "1970-01-01",
    ),
    Case(
        "demo --minutes nan",
        lambda folder: ["demo", "--minutes", "nan", "--out", str(folder / "demo")],
        "not a number",
    ),
    Case(
        "demo --minutes inf",
        lambda folder: ["demo", "--minutes", "inf", "--out", str(folder / "demo")],
        "0.5<=x<=120",
    ),
    Case(
        "verify-bundle of a missing file",
        lambda folder: ["verify-bundle", str(folder / "missing.zip")],
        "does not exist",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_gets_one_line_and_exit_2(case_dir: Path, case: Case) -> None:
    before = store_state(case_dir)
    code, _, err = run(*case.command(case_dir))
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert case.says in err, err
    assert "internal error" not in err and "Traceback" not in err
    assert store_state(case_dir) == before


def test_yaml_nested_100000_deep_is_one_line_not_a_segfault(case_dir: Path) -> None:
    """libyaml's composer recursed until the C stack ran out: SIGSEGV, nothing printed."""
    path = case_dir / "deep.yml"
    path.write_text("vantage: x\ntargets: " + "[" * 100_000 + "]" * 100_000 + "\n")
    before = store_state(case_dir)
    done = slawitness("check-config", "--config", str(path))
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.startswith(f"{path}:2:"), done.stderr
    assert done.stderr.endswith(": invalid YAML: nested deeper than 64 levels\n")
    assert done.stderr.count("\n") == 1
    assert store_state(case_dir) == before


def test_output_cut_short_by_its_reader_ends_quietly(
    case_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slawitness export | head -1`: a real pipe whose reader has gone, as in a shell."""
    reader, writer = os.pipe()
    os.close(reader)
    stdout = io.TextIOWrapper(os.fdopen(writer, "wb"), encoding="utf-8")
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", errors)
    monkeypatch.setattr(sys, "argv", ["slawitness", "export", "--config",
                                      str(case_dir / "slawitness.yml")])  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == EXIT_CLOSED_OUTPUT
    assert errors.getvalue() == ""
