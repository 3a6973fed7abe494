"""Trusted time from several RFC 3161 authorities, k of n: two local `openssl ts` TSAs on
loopback (and one that accepts and never answers), the config's two forms and their
mistakes, and the public list `init` proposes, held against the system's CA store."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from collector.config.loader import ConfigError, parse_config
from collector.config.model import Timestamping
from collector.evidence.store import EvidenceStore
from collector.proving import checkpoints, timestamping
from collector.proving.public_tsas import AT_LEAST, PUBLIC_TSAS, sha256_of_pem
from tests.clirun import slawitness, write_config
from tests.rig.loopback import HttpFaultServer, TcpListener
from tests.rig.stores import fill
from tests.rig.tsa import LocalTsa


def _config(folder: Path, port: int, urls: list[str], at_least: int, **extra: object) -> Path:
    """A collector probing one TCP port, its checkpoints stamped by the TSAs at `urls`."""
    path = write_config(
        folder,
        [
            {
                "name": "vps1",
                "host": "127.0.0.1",
                "probes": [
                    {"name": "ssh", "kind": "tcp", "port": port, "interval": "2s", "timeout": "1s"}
                ],
                "sla": {
                    "uptime": 99.9,
                    "credits": [{"below": 99.9, "credit": 10}],
                    "monthly_fee": 5,
                    "currency": "USD",
                },
            }
        ],
    )
    data = yaml.safe_load(path.read_text())
    data["checkpoints"] = {
        "every": "1h",
        "timestamping": {
            "at_least": at_least,
            "authorities": [{"url": url, **extra.get(url, {})} for url in urls],  # type: ignore[dict-item]
            "timeout": "2s",
        },
    }
    path.write_text(yaml.safe_dump(data))
    assert slawitness("init", "--config", str(path), "--key-only").returncode == 0
    return path


def _with_roots(folder: Path, *tsas: LocalTsa) -> dict[str, dict[str, str]]:
    """Each TSA's roots written beside the config, as its authority entry names them."""
    extra = {}
    for index, tsa in enumerate(tsas):
        (folder / f"roots-{index}.pem").write_bytes(tsa.roots_pem)
        extra[tsa.url] = {"roots": f"roots-{index}.pem"}
    return extra


def _records(path: Path, *types: str) -> list[dict[str, object]]:
    with EvidenceStore.open(path, readonly=True) as store:
        return [{"seq": r.seq, **r.record} for r in store.records(types=list(types) or None)]


def test_two_authorities_each_stamp_the_checkpoint_and_two_of_two_is_met(
    tmp_path: Path, tcp_listener: TcpListener, local_tsa: LocalTsa, chained_tsa: LocalTsa
) -> None:
    urls = [local_tsa.url, chained_tsa.url]
    extra = _with_roots(tmp_path, local_tsa, chained_tsa)
    config = _config(tmp_path, tcp_listener.port, urls, 2, **extra)
    done = slawitness("probe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "slawitness timestamp:" not in done.stderr, done.stderr
    requests = _records(tmp_path / "evidence.db", "timestamp_request")
    assert sorted(str(r["url"]) for r in requests) == sorted(urls), "one request each"
    assert requests[0]["checkpoint_seq"] == requests[1]["checkpoint_seq"]
    assert requests[0]["request"] != requests[1]["request"], "each with its own nonce"
    answers = _records(tmp_path / "evidence.db", "timestamp")
    assert {a["request_seq"] for a in answers} == {r["seq"] for r in requests}
    assert all(a["verified_with_roots"] is True for a in answers)
    assert local_tsa.requests == 1 and chained_tsa.requests == 1

    verify = slawitness("verify", "--config", str(config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.count("chain checked against the TSA roots") == 2
    size = requests[0]["size"]
    assert f"checkpoint of {size} records (seq {requests[0]['checkpoint_seq']}) stamped by 2:" in (
        verify.stdout
    )
    assert local_tsa.url in verify.stdout and chained_tsa.url in verify.stdout
    assert (
        f"trusted time: checkpoint of {size} records stamped by 2 of 2 authorities"
        " (2 of 2 authorities required): met"
    ) in verify.stdout

    status = slawitness("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "stamped by 2 of 2 authorities (2 of 2 authorities required): met" in status.stdout

    now = datetime.now(UTC)
    span = [(now - timedelta(hours=1)).isoformat(), (now + timedelta(minutes=1)).isoformat()]
    out = tmp_path / "report"
    report = slawitness(
        "report", "--config", str(config), "--target", "vps1", "--from", span[0],
        "--to", span[1], "--format", "json,html", "--lang", "en,zh", "--out", str(out),
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["timestamps"]) == 2
    assert all(s["roots_checked"] is True and s["problem"] is None for s in summary["timestamps"])
    [vouched] = summary["trusted_time"]
    assert vouched["met"] is True and (vouched["at_least"], vouched["of"]) == (2, 2)
    [checkpoint] = vouched["checkpoints"]
    assert checkpoint["size"] == size and checkpoint["authorities"] == 2
    assert {s["url"] for s in checkpoint["stamps"]} == set(urls)
    html = (out / "report.en.html").read_text()
    assert "stamped by 2 of 2 authorities, 2 required: met" in html
    assert f"Checkpoint of {size} records: vouched for by" in html
    assert chained_tsa.url in html
    assert "已满足" in (out / "report.zh.html").read_text()


def test_a_hanging_authority_delays_neither_the_other_nor_the_round(
    tmp_path: Path,
    tcp_listener: TcpListener,
    local_tsa: LocalTsa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One TSA accepts the connection and never answers: the other still stamps, the
    round's probe records are stored first, the round ends within its `timeout`,
    and the hanging one's failure is chained and its request sent again later."""
    hanging = HttpFaultServer().start()
    try:
        urls = [hanging.url("/hang"), local_tsa.url]
        config = _config(tmp_path, tcp_listener.port, urls, 2)
        # the authority never answers: the round ends only because its 2 s timeout holds
        done = slawitness("probe", "--config", str(config))
        assert done.returncode == 0, "an authority's silence is not the round's failure"
        assert "no answer within 2 s" in done.stderr and urls[0] in done.stderr
        store_path = tmp_path / "evidence.db"
        records = _records(store_path)
        first_tsa = min(r["seq"] for r in records if str(r["type"]).startswith("timestamp"))
        probes = [r for r in records if r["type"] == "probe"]
        assert probes and max(int(str(p["seq"])) for p in probes) < first_tsa
        [answer] = _records(store_path, "timestamp")
        [failed] = _records(store_path, "timestamp_failed")
        by_url = {r["url"]: r["seq"] for r in _records(store_path, "timestamp_request")}
        assert answer["request_seq"] == by_url[local_tsa.url]
        assert failed["request_seq"] == by_url[urls[0]]

        verify = slawitness("verify", "--config", str(config))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "stamped by 1 of 2 authorities (2 of 2 authorities required): NOT met" in (
            verify.stdout
        )

        again = slawitness("probe", "--config", str(config))
        assert again.returncode == 0
        assert len(_records(store_path, "timestamp_failed")) == 1, "waits RETRY_S to retry"

        hanging.mode = "/ok"  # it answers now, but not with a timestamp
        monkeypatch.setattr(timestamping, "RETRY_S", 0.0)
        settings = Timestamping(authorities=[{"url": u} for u in urls], at_least=2, timeout=2.0)
        with EvidenceStore.open(store_path) as store:
            outcomes = timestamping.step_each(store, settings, "v")
        assert [o.url for o in outcomes] == urls
        retried, other = outcomes
        assert retried.request_seq == by_url[urls[0]] and retried.stored == "timestamp_failed"
        assert "content type" in retried.message
        assert other.stored is None and other.message == "no timestamp due"
        assert local_tsa.requests == 1, "the authority that answered is not asked again"
    finally:
        hanging.stop()


def test_authorities_are_asked_at_the_same_time(tmp_path: Path, local_tsa: LocalTsa) -> None:
    """Two hanging authorities cost one timeout, not two: both are asked while neither has
    given up (their timeout is far longer than the wait for both to be asked), and the third
    still stamps. They are cut off once both were asked, so the step ends then."""
    key = checkpoints.create_key(tmp_path / "k.key", "test")
    hanging = [HttpFaultServer().start(), HttpFaultServer().start()]
    try:
        urls = [hanging[0].url("/hang"), hanging[1].url("/hang"), local_tsa.url]
        settings = Timestamping(authorities=[{"url": u} for u in urls], at_least=1, timeout=120)
        store_path = tmp_path / "evidence.db"
        with EvidenceStore.create(store_path) as store:
            fill(store, 4)
            checkpoints.write(store, key, "v")
        outcomes: list[timestamping.Outcome] = []

        def step() -> None:
            with EvidenceStore.open(store_path) as store:
                outcomes.extend(timestamping.step_each(store, settings, "v"))

        stepping = threading.Thread(target=step)
        stepping.start()
        asked = [server.wait_connections(1, timeout=60) for server in hanging]
        for server in hanging:
            server.stop()
        stepping.join()
        assert asked == [1, 1], "the hanging authorities were asked in turn"
        assert [o.stored for o in outcomes] == ["timestamp_failed", "timestamp_failed", "timestamp"]
    finally:
        for server in hanging:
            server.stop()


def test_the_single_url_form_still_means_one_authority(tmp_path: Path) -> None:
    settings = Timestamping(url="http://127.0.0.1:1/tsa", roots=Path("r.pem"))
    assert [(a.url, a.roots) for a in settings.sources] == [
        ("http://127.0.0.1:1/tsa", Path("r.pem"))
    ]
    assert settings.quorum == 1


@pytest.mark.parametrize(
    ("stamping", "expected"),
    [
        (
            {"authorities": [{"url": "http://127.0.0.1:1/a"}], "at_least": 2},
            "checkpoints.timestamping.at_least: 2 of 1 authorities cannot be met",
        ),
        (
            {"authorities": [{"url": "http://127.0.0.1:1/a"}], "at_least": 0},
            "checkpoints.timestamping.at_least: input should be greater than or equal to 1 (got 0)",
        ),
        (
            {"authorities": [{"url": "http://127.0.0.1:1/a"}, {"url": "http://127.0.0.1:1/a"}]},
            "checkpoints.timestamping.authorities[1].url: http://127.0.0.1:1/a is listed twice",
        ),
        (
            {"url": "http://127.0.0.1:1/a", "authorities": [{"url": "http://127.0.0.1:1/b"}]},
            "checkpoints.timestamping.url: give either url or authorities, not both",
        ),
        (
            {"authorities": [{"url": "http://127.0.0.1:1/a"}], "roots": "r.pem"},
            "checkpoints.timestamping.roots: with authorities, each authority names its own roots",
        ),
        (
            {"url": "http://127.0.0.1:1/a", "at_least": 2},
            "checkpoints.timestamping.at_least: 2 of 1 authority cannot be met",
        ),
        ({"every": "1d"}, "checkpoints.timestamping.url: give the TSA's url"),
        (
            {"authorities": [{"url": "ftp://127.0.0.1/a"}]},
            "checkpoints.timestamping.authorities[0].url:",
        ),
        ({"authorities": []}, "checkpoints.timestamping.authorities:"),
    ],
)
def test_a_wrong_timestamping_block_is_one_line_naming_the_key(
    tmp_path: Path, stamping: dict[str, object], expected: str
) -> None:
    data = {
        "vantage": "v",
        "targets": [{"name": "t", "host": "127.0.0.1", "probes": [{"name": "p", "kind": "tcp",
                                                                   "port": 1}]}],
        "checkpoints": {"timestamping": stamping},
    }  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(data), tmp_path / "slawitness.yml")
    [line] = str(caught.value).splitlines()
    assert expected in line, line


def test_every_public_authority_has_a_root_from_the_system_ca_store() -> None:
    assert len(PUBLIC_TSAS) >= AT_LEAST >= 2
    assert len({tsa.url for tsa in PUBLIC_TSAS}) == len(PUBLIC_TSAS)
    for tsa in PUBLIC_TSAS:
        pem = tsa.root_pem()
        assert sha256_of_pem(pem) == tsa.root_sha256, tsa.name
        assert tsa.root_sha256 in tsa.source_note() and tsa.store_file in tsa.source_note()
        assert tsa.url_source.startswith("https://"), tsa.name
        system = Path(tsa.store_file)
        if not system.is_file():
            pytest.skip(f"{system} not installed here (Debian's ca-certificates)")
        assert sha256_of_pem(system.read_bytes()) == tsa.root_sha256, f"{tsa.name}: {system}"


def test_init_proposes_the_public_authorities_and_no_timestamping_leaves_them_out(
    tmp_path: Path,
) -> None:
    done = slawitness("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [said] = [line for line in done.stdout.splitlines() if line.startswith("trusted time:")]
    assert f"{AT_LEAST} of {len(PUBLIC_TSAS)} required" in said
    text = (tmp_path / "slawitness.yml").read_text()
    for tsa in PUBLIC_TSAS:
        assert f"# {tsa.name}: URL from {tsa.url_source}" in text
    checked = slawitness("check-config", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    config = parse_config(text, tmp_path / "slawitness.yml", resolve_secrets=False)
    stamping = config.checkpoints.timestamping
    assert stamping is not None and stamping.quorum == AT_LEAST
    assert [a.url for a in stamping.sources] == [tsa.url for tsa in PUBLIC_TSAS]
    for authority, tsa in zip(stamping.sources, PUBLIC_TSAS, strict=True):
        assert authority.roots is not None and authority.roots.read_bytes() == tsa.root_pem()

    bare = tmp_path / "bare"
    bare.mkdir()
    plain = slawitness("init", "--no-timestamping", cwd=bare)
    assert plain.returncode == 0, plain.stderr
    assert "trusted time:" not in plain.stdout and not (bare / "tsa-roots").exists()
    assert "timestamping" not in (bare / "slawitness.yml").read_text()
