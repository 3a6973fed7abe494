"""A secret in the config never leaves it: not in records, logs, metrics, reports or bundles.

The first test plants two unique secrets (an API token header from the environment and a
basic auth password from a file), proves the probed server really received them, then runs
every verb that writes something and scans every byte it wrote: stdout and stderr, the store
and its WAL, exports, /metrics and /probe answers, every report file and every member of the
bundle, decompressed.

The rest hold `redact` to every form a secret can take on its way into a message (escaped,
encoded, base64, hex, wrapped), by a table of secret shapes: through the real http probe and
httpx/h11 against a loopback server, whose refusal of an odd header value puts that value in
the exception message, then out through every record, export, bundle, backup and proof; and
as unit cases over each encoding. `forms_of` spells the forms here, independently of the
code under test.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import json
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config.loader import ConfigError, load_config
from collector.config.secrets import REDACTED, Secret, redact
from collector.probes.http_exchange import classify
from tests.clirun import slawitness
from tests.rig.loopback import HttpFaultServer

TOKEN = f"tok-{uuid.uuid4().hex}"
PASSWORD = f"pw-{uuid.uuid4().hex}"
BASIC = base64.b64encode(f"prober:{PASSWORD}".encode()).decode()
PLANTED = (TOKEN, PASSWORD, BASIC)


def _lower_percent(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), text)


def _wrapped(text: str) -> str:
    """`text` split across two lines, as a log line or a folded header wraps it."""
    middle = len(text) // 2
    return text[:middle] + "\n    " + text[middle:]


ENCODINGS: dict[str, Callable[[str], str]] = {
    "verbatim": lambda s: s,
    "repr": lambda s: repr(s)[1:-1],
    "ascii": lambda s: ascii(s)[1:-1],
    "repr-of-utf8-bytes": lambda s: repr(s.encode())[2:-1],
    "json": lambda s: json.dumps(s)[1:-1],
    "json-unicode": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json-of-repr": lambda s: json.dumps(repr(s.encode()))[1:-1],
    "json-of-json": lambda s: json.dumps(json.dumps(s))[1:-1],
    "percent": lambda s: urllib.parse.quote(s, safe=""),
    "percent-lower-hex": lambda s: _lower_percent(urllib.parse.quote(s, safe="")),
    "percent-plus": lambda s: urllib.parse.quote_plus(s),
    "percent-twice": lambda s: urllib.parse.quote(urllib.parse.quote(s, safe=""), safe=""),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64-urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64-of-user-colon": lambda s: base64.b64encode(f"prober:{s}".encode()).decode(),
    "base64-of-user-colon-2": lambda s: base64.b64encode(f"bob:{s}".encode()).decode(),
    "base64-of-user-colon-3": lambda s: base64.b64encode(f"alice:{s}".encode()).decode(),
    "base64-mime-wrapped": lambda s: base64.encodebytes((s * 8).encode()).decode(),
    "hex": lambda s: s.encode().hex(),
    "hex-upper": lambda s: s.encode().hex().upper(),
    "hex-colons": lambda s: s.encode().hex(":"),
    "html": lambda s: html.escape(s),
    "csv": lambda s: s.replace('"', '""'),
    "split-across-lines": _wrapped,
}


@functools.cache
def forms_of(secret: str) -> frozenset[str]:
    """Every form of `secret` that must never be found in an output, as ENCODINGS spell it
    (repr of its Latin-1 bytes too when it has them); the trivially short ones left out.
    Cached: the scans ask for the same few secrets' forms for every file they read."""
    forms = {encode(secret) for encode in ENCODINGS.values()}
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(repr(secret.encode("latin-1"))[2:-1])
    return frozenset(form for form in forms if len(form) >= 6)


def found_forms(data: bytes, secrets: tuple[str, ...]) -> list[str]:
    """Which secrets have some form in `data` (read as UTF-8, and as Latin-1 for bytes that
    are not), by the secret's repr."""
    texts = {data.decode("utf-8", "replace"), data.decode("latin-1")}
    return [
        repr(secret)
        for secret in secrets
        if any(form in text for form in forms_of(secret) for text in texts)
    ]


def leaks(data: bytes) -> list[str]:
    """Which planted secrets (in any of their forms) appear in `data`."""
    return found_forms(data, PLANTED)


def scan_tree(
    folder: Path, skip: set[Path], secrets: tuple[str, ...] = PLANTED
) -> dict[str, list[str]]:
    """Every file under `folder` (zip members opened) that holds a secret in some form."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p not in skip):
        in_file = found_forms(path.read_bytes(), secrets)
        if in_file:
            found[str(path)] = in_file
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    inside = found_forms(bundle.read(member), secrets)
                    if inside:
                        found[f"{path}!{member}"] = inside
    return found


def test_planted_secrets_appear_in_no_output(
    tmp_path: Path, http_server: HttpFaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.expect_auth = ("prober", PASSWORD)
    secret_file = tmp_path / "secrets" / "password"
    secret_file.parent.mkdir()
    secret_file.write_text(PASSWORD + "\n")
    config = tmp_path / "slawitness.yml"
    config.write_text(yaml.safe_dump({
        "vantage": "office", "store": "evidence.db",
        "targets": [{
            "name": "vps1", "host": "127.0.0.1",
            "probes": [{"name": "web", "kind": "http", "url": http_server.url("/auth"),
                        "interval": "2s", "timeout": "1s",
                        "headers": {"X-Api-Token": "${SLAWITNESS_TEST_TOKEN}"},
                        "basic_auth": {"username": "prober",
                                       "password": {"file": str(secret_file)}}}],
            "sla": {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 40, "currency": "USD"},
        }],
    }))  # fmt: skip
    monkeypatch.setenv("SLAWITNESS_TEST_TOKEN", TOKEN)
    outputs: list[bytes] = []
    for _ in range(3):
        done = slawitness("--log-level", "debug", "probe", "--config", str(config))
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout.encode(), done.stderr.encode()]
    port = _free_port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "cli", "--log-level", "debug", "run", "--config",
         str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        outputs.append(_get(f"http://127.0.0.1:{port}/metrics"))
        outputs.append(_get(f"http://127.0.0.1:{port}/probe?target=vps1&probe=web"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
        outputs += [out, err]
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    for argv in (
        ["export", "--format", "jsonl"],
        ["export", "--format", "csv"],
        ["verify"],
        ["check-config"],
        ["report", "--target", "vps1", "--from", start, "--to", end,
         "--out", str(tmp_path / "report")],
        ["bundle", "--target", "vps1", "--from", start, "--to", end,
         "--out", str(tmp_path / "bundle.zip")],
    ):  # fmt: skip
        done = slawitness("--log-level", "debug", *argv, "--config", str(config), timeout=180)
        assert done.returncode == 0, (argv, done.stderr)
        outputs += [done.stdout.encode(), done.stderr.encode()]
    seen = [r for r in http_server.requests if r.path.startswith("/auth")]
    assert seen, "the probe never reached the server"
    assert all(r.headers.get("x-api-token") == TOKEN for r in seen)
    assert all(r.headers.get("authorization") == f"Basic {BASIC}" for r in seen)
    assert [leaks(output) for output in outputs if leaks(output)] == []
    assert scan_tree(tmp_path, skip={config, secret_file}) == {}
    assert (tmp_path / "bundle.zip").stat().st_size > 0 and (tmp_path / "report").is_dir()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, attempts: int = 100) -> bytes:
    """GET `url`, waiting for the daemon to start listening."""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def _unique() -> str:
    return uuid.uuid4().hex[:12]


SHAPES: dict[str, str] = {
    "plain": f"tok-{_unique()}",
    "quotes-and-backslashes": f"q'\"\\{_unique()}\\\\",
    "unicode": f"é中😀-{_unique()}",
    "tab-and-space": f"a\tb c-{_unique()}",
    "controls": f"\x00\x0b\x1f{_unique()}\x7f",
    "newlines": f"ab\ncd\r\n{_unique()}",
    "edge-spaces": f" {_unique()} ",
    "edge-spaces-unicode-quotes": f" é中😀'\"\\{_unique()} ",
    "url-specials": f"a+b/c=d&e%f?{_unique()}",
    "escapes-written-out": f"\\n\\x41\\u00e9-{_unique()}",
    "everything": f"\x0b q'\"\\é中😀\t+%{_unique()}",
}
"""Secret values of every awkward kind, each unique to this run."""

REFUSED_BY_H11 = ["controls", "newlines", "edge-spaces", "edge-spaces-unicode-quotes", "everything"]
"""Shapes that h11 refuses as header values, quoting them in its exception message."""


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_redact_scrubs_every_form_of_every_shape(shape: str, encoding: str) -> None:
    secret = SHAPES[shape]
    form = ENCODINGS[encoding](secret)
    text = f"LocalProtocolError: Illegal header value b'{form}' (probe web)"
    scrubbed = redact(text, [Secret(secret)])
    assert REDACTED in scrubbed
    assert found_forms(scrubbed.encode(), (secret,)) == [], scrubbed
    assert scrubbed.startswith("LocalProtocolError: Illegal header value b'"), scrubbed
    assert scrubbed.endswith("' (probe web)"), scrubbed


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_redact_leaves_text_without_the_secret_alone(shape: str) -> None:
    text = (
        "status 503, expected 2xx; address 127.0.0.1; LocalProtocolError: Illegal header "
        "value b'other\\x00value'; dGhlIHF1aWNrIGJyb3du 74686520717569636b; %41%42 \\n"
    )
    assert redact(text, [Secret(SHAPES[shape])]) == text


def test_too_short_a_secret_is_not_scrubbed() -> None:
    """Two characters would match everywhere: such a value is not treated as a secret."""
    assert redact("ok at 10:00", [Secret("ok"), Secret("")]) == "ok at 10:00"


def test_a_basic_auth_header_loses_the_password_given_alone() -> None:
    """The config knows the password, not the `user:password` pair: the password's part
    of the base64 goes, whichever alignment the user name gives it."""
    for user in ("a", "ab", "abc", "prober"):
        token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        scrubbed = redact(f"Authorization: Basic {token}", [Secret(PASSWORD)])
        assert token not in scrubbed and REDACTED in scrubbed
        left = len(scrubbed) - len("Authorization: Basic ") - len(REDACTED)
        assert left <= len(f"{user}:") * 4 // 3, "only the user name's part is left"


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
        min_size=8,
        max_size=24,
    ),
    encoding=st.sampled_from(sorted(ENCODINGS)),
    before=st.text(max_size=6),
    after=st.text(max_size=6),
)
def test_no_form_of_any_secret_survives_redaction(
    secret: str, encoding: str, before: str, after: str
) -> None:
    form = ENCODINGS[encoding](secret)
    scrubbed = redact(before + form + after, [Secret(secret)])
    assert all(form not in piece for piece in scrubbed.split(REDACTED)), scrubbed


@pytest.mark.parametrize("shape", REFUSED_BY_H11)
def test_an_httpx_refusal_quoting_the_header_value_is_scrubbed(
    http_server: HttpFaultServer, shape: str
) -> None:
    """httpx and h11 against a real loopback server: the refusal's message quotes the value
    (so the test has something to scrub), and the probe's classify + redact remove it."""
    secret = SHAPES[shape]
    headers = httpx.Headers({"Connection": "close"})
    headers["X-Api-Token"] = secret  # as the probe sets it
    with (
        httpx.Client(trust_env=False) as client,
        pytest.raises(httpx.HTTPError) as caught,
    ):
        client.get(http_server.url("/ok"), headers=headers)
    _error, message = classify(caught.value, 1.0)
    assert found_forms(message.encode(), (secret,)), f"the value is not in: {message}"
    scrubbed = redact(message, [Secret(secret)])
    assert REDACTED in scrubbed and found_forms(scrubbed.encode(), (secret,)) == [], scrubbed


ODD_PASSWORD = f"pw'\"\\ é中😀+/=%{_unique()}"


def _odd_config(folder: Path, server: HttpFaultServer, shapes: list[str]) -> Path:
    """A config with one http probe per header shape (values from files) and one with basic
    auth whose password is odd too; checkpoints on, so records can be proved."""
    secrets = folder / "secrets"
    secrets.mkdir(exist_ok=True)
    probes: list[dict[str, object]] = []
    for shape in shapes:
        (secrets / shape).write_bytes(SHAPES[shape].encode())
        probes.append({
            "name": f"web-{shape}", "kind": "http", "url": server.url("/ok"),
            "interval": "2s", "timeout": "1s",
            "headers": {"X-Api-Token": {"file": str(secrets / shape)}},
        })  # fmt: skip
    (secrets / "password").write_bytes(ODD_PASSWORD.encode())
    probes.append({
        "name": "auth", "kind": "http", "url": server.url("/auth"), "interval": "2s",
        "timeout": "1s",
        "basic_auth": {"username": "prober", "password": {"file": str(secrets / "password")}},
    })  # fmt: skip
    config = folder / "slawitness.yml"
    config.write_text(yaml.safe_dump({
        "vantage": "office", "store": "evidence.db", "checkpoints": {"every": "1h"},
        "targets": [{
            "name": "vps1", "host": "127.0.0.1", "probes": probes,
            "sla": {"uptime": 99.9, "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 40, "currency": "USD"},
        }],
    }))  # fmt: skip
    return config


def test_no_form_of_an_odd_secret_reaches_any_record_export_bundle_backup_or_proof(
    tmp_path: Path, http_server: HttpFaultServer
) -> None:
    """Header values that the probe's HTTP library refuses, quoting them, go through the
    whole CLI. A shape the config refuses at load instead must not be echoed by that refusal
    either; the others reach the probe, fail it, and leave no trace."""
    secrets = (*SHAPES.values(), ODD_PASSWORD)
    outputs: list[bytes] = []
    (tmp_path / "all").mkdir()
    everything = _odd_config(tmp_path / "all", http_server, list(SHAPES))
    checked = slawitness("check-config", "--config", str(everything))
    outputs += [checked.stdout.encode(), checked.stderr.encode()]
    accepted = []
    for shape in SHAPES:
        try:
            load_config(_odd_config(tmp_path / "all", http_server, [shape]))
        except ConfigError as refused:
            assert found_forms(str(refused).encode(), secrets) == [], str(refused)
        else:
            accepted.append(shape)
    http_server.expect_auth = ("prober", ODD_PASSWORD)
    config = _odd_config(tmp_path, http_server, accepted)
    run = [("init", "--key-only"), ("--log-level", "debug", "probe")]
    for argv in run:
        done = slawitness(*argv, "--config", str(config))
        assert done.returncode == 0, (argv, done.stderr)
        outputs += [done.stdout.encode(), done.stderr.encode()]
    exported = slawitness("export", "--format", "jsonl", "--config", str(config))
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    probes = {r["probe"]: r for r in records if r["type"] == "probe"}
    assert probes["auth"]["ok"], probes["auth"]
    for shape in accepted:
        record = probes[f"web-{shape}"]
        if shape in REFUSED_BY_H11:
            assert not record["ok"] and REDACTED in record["detail"]["message"], record
    failed = [str(r["seq"]) for r in records if r["type"] == "probe" and not r["ok"]]
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    for argv in (
        ["export", "--format", "jsonl"],
        ["export", "--format", "csv"],
        ["verify"],
        ["bundle", "--target", "vps1", "--from", start, "--to", end,
         "--out", str(tmp_path / "bundle.zip")],
        ["backup", str(tmp_path / "backup.db")],
        *([["prove", *(f"--seq={seq}" for seq in failed), "--out", str(tmp_path / "proofs")]]
          if failed else []),
    ):  # fmt: skip
        done = slawitness("--log-level", "debug", *argv, "--config", str(config), timeout=180)
        assert done.returncode == 0, (argv, done.stderr)
        outputs += [done.stdout.encode(), done.stderr.encode()]
    assert [found for found in (found_forms(o, secrets) for o in outputs) if found] == []
    skip = {config, *(tmp_path / "secrets").iterdir(), *(tmp_path / "all").rglob("*")}
    assert scan_tree(tmp_path, skip=skip, secrets=secrets) == {}
    assert zipfile.is_zipfile(tmp_path / "bundle.zip") and (tmp_path / "backup.db").is_file()
