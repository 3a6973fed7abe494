"""The evidence bundle: one zip a user attaches to a complaint, checkable by its reader.

Layout (every path is a zip member; `MANIFEST.sha256` covers all the others)::

    MANIFEST.sha256        `<sha256>  <path>` lines: `unzip; sha256sum -c MANIFEST.sha256`
    README.txt             what is inside and how to check it (English, then Chinese)
    config.yml             the config used, secret values replaced by "<redacted>"
    records/<name>.jsonl   per store: a contiguous segment of its hash chain (see below)
    records/chain.json     per records file: store, first/last seq, prev_hash, last_hash
    report/...             every file of the report folder (summary.json, HTML, PDF, ...)
    verify.json            each store's `verify` result and each segment's check

Records: from each store, the records the figures depend on are those of the target and
its controls plus those without a target (collector start/stop/heartbeat/round) and imports,
with `window_start_ns <= ts_ns < window_end_ns`, and the `import` record of every file that
records in the window came from (written when the file was imported, often later). Records
of other targets are not needed, but a chain segment with holes cannot be checked, so the
bundle carries every record from the first to the last needed seq, whatever its target:
they are the user's own evidence.
Each line is `{"seq", "hash", "payload"}` with the payload exactly as stored and hashed.

The zip is deterministic: sorted names, one fixed timestamp (the period end), fixed
permissions and compression, so the same inputs give the same bytes and the same SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.parse
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import apsw
import yaml
from pydantic import BaseModel

from collector.bundle_check import CHAIN_FILE, MANIFEST, check_segment, unsafe_name
from collector.chain import GENESIS
from collector.config import Config
from collector.config_loader import ConfigError, read_yaml_mapping
from collector.secrets import REDACTED, Secret
from collector.store import EvidenceStore

_NEEDED_TYPES = ("collector", "import")
"""Record types needed whatever their target. An import record is also needed, whatever its
time, when records in the window came from the file it describes."""
_MIN_SCANNED_SECRET = 6
"""Shorter secret values are too likely to occur by chance in hashes or prose."""


class BundleError(Exception):
    """The bundle could not be written; the message says why in one line."""


@dataclass(frozen=True)
class SegmentInfo:
    """One store's exported chain segment and its check (seqs None when nothing matched)."""

    member: str
    store: str
    first_seq: int | None
    last_seq: int | None
    records: int
    ok: bool
    problem: str | None


@dataclass(frozen=True)
class BundleInfo:
    """What was written: the zip, its SHA-256, its member count, records and segments."""

    path: Path
    sha256: str
    files: int
    records: int
    segments: list[SegmentInfo]


@dataclass(frozen=True)
class StagedRecords:
    """The stores' record segments, written to a staging folder before the report is made,
    so the report's letters can cite `records/chain.json`, which pins every segment's last
    hash and through the chain every record in it."""

    members: dict[str, Path]
    chain: dict[str, dict[str, object]]
    segments: list[SegmentInfo]

    @property
    def chain_bytes(self) -> bytes:
        return _json_bytes({"format": 1, "segments": self.chain})

    @property
    def chain_sha256(self) -> str:
        return hashlib.sha256(self.chain_bytes).hexdigest()


def stage_records(
    staging: Path,
    stores: Sequence[Path],
    hosts: Sequence[str],
    window_start_ns: int,
    window_end_ns: int,
) -> StagedRecords:
    """Export each store's contiguous segment covering `hosts` in the window into `staging`."""
    members: dict[str, Path] = {}
    chain: dict[str, dict[str, object]] = {}
    segments: list[SegmentInfo] = []
    taken: dict[str, Path | bytes] = {}
    for index, store in enumerate(stores):
        staged = staging / f"records-{index}.jsonl"
        entry, vantage = _export_segment(store, staged, list(hosts), window_start_ns, window_end_ns)
        member = _records_member(vantage or store.stem, taken)
        taken[member] = staged
        members[member] = staged
        chain[member] = entry
        segments.append(_checked(member, entry, staged))
    return StagedRecords(members, chain, segments)


def write_bundle(
    zip_path: Path,
    *,
    report_dir: Path,
    records: StagedRecords,
    config_path: Path,
    config: Config,
    verify_results: list[dict],
    period_end_ns: int,
) -> BundleInfo:
    """Write the bundle to `zip_path` (atomically) and describe it.

    `period_end_ns` dates every member. Raises BundleError when the config cannot be read,
    or when a secret value would end up in a member.
    """
    secrets = [s for s in config.secrets() if len(s.reveal()) >= _MIN_SCANNED_SECRET]
    members: dict[str, Path | bytes] = dict(_report_members(report_dir, zip_path))
    members.update(records.members)
    members[CHAIN_FILE] = records.chain_bytes
    members["config.yml"] = redacted_config(config_path, config).encode("utf-8")
    members["verify.json"] = _json_bytes(
        {"stores": verify_results, "segments": [s.__dict__ for s in records.segments]}
    )
    members["README.txt"] = README_TEXT.encode("utf-8")
    for name, content in members.items():
        _refuse_secrets(name, content, secrets)
    members[MANIFEST] = _manifest(members)
    digest = _write_zip(zip_path, members, period_end_ns)
    count = sum(s.records for s in records.segments)
    return BundleInfo(zip_path, digest, len(members), count, records.segments)


def _report_members(report_dir: Path, zip_path: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under `report_dir` as `report/<relative path>`.

    Symbolic links are left out (they could pull in any file), and so is the bundle itself
    when `--out` points into the report folder, so a rerun does not pack the last bundle.
    """
    if not report_dir.is_dir():
        raise BundleError(f"{report_dir}: report folder not found (run `slawitness report`)")
    own = {zip_path.resolve(), _partial(zip_path).resolve()}
    for path in sorted(report_dir.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.resolve() in own:
            continue
        name = "report/" + path.relative_to(report_dir).as_posix()
        if unsafe_name(name) is not None:
            raise BundleError(f"{path}: file name cannot go into a bundle ({unsafe_name(name)})")
        yield name, path


def _records_member(base: str, taken: dict[str, Path | bytes]) -> str:
    """`records/<base>.jsonl`, made safe and unique (two stores of one vantage get -2)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", base).strip(".") or "store"
    name, n = f"records/{safe}.jsonl", 1
    while name in taken:
        n += 1
        name = f"records/{safe}-{n}.jsonl"
    return name


def _export_segment(
    store: Path, out: Path, hosts: list[str], start_ns: int, end_ns: int
) -> tuple[dict[str, object], str | None]:
    """Write the store's contiguous segment to `out`; its chain.json entry and its vantage.

    The store is opened through EvidenceStore first so a missing file or a non-store is
    reported the usual way; the rows are then read raw, in one read snapshot, because the
    bundle must carry the payload bytes exactly as they were hashed.
    """
    with EvidenceStore.open(store, readonly=True) as opened:
        store_id = opened.meta().get("store_id")
    try:
        conn = _read_only_connection(store)
    except apsw.Error as exc:
        raise BundleError(f"{store}: cannot open the evidence store ({exc})") from None
    try:
        conn.execute("BEGIN")
        entry, vantage = _export_rows(conn, out, hosts, start_ns, end_ns)
        conn.execute("COMMIT")
    except apsw.Error as exc:
        raise BundleError(f"{store}: cannot read the evidence store ({exc})") from None
    finally:
        conn.close()
    return {"store": os.fspath(store), "store_id": store_id, **entry}, vantage


def _read_only_connection(store: Path) -> apsw.Connection:
    """Read-only, and immutable on read-only media with no `-shm` (as EvidenceStore does)."""
    flags = apsw.SQLITE_OPEN_READONLY
    name = os.path.abspath(store)
    if not os.access(os.path.dirname(name), os.W_OK) and not os.path.exists(name + "-shm"):
        uri = "file:" + urllib.parse.quote(name) + "?immutable=1"
        return apsw.Connection(uri, flags=flags | apsw.SQLITE_OPEN_URI)
    return apsw.Connection(name, flags=flags)


def _export_rows(
    conn: apsw.Connection, out: Path, hosts: list[str], start_ns: int, end_ns: int
) -> tuple[dict[str, object], str | None]:
    needed = (
        "ts_ns >= ? AND ts_ns < ? AND (target IS NULL"
        f" OR target IN ({','.join('?' * len(hosts))})"
        f" OR type IN ({','.join('?' * len(_NEEDED_TYPES))}))"
    )
    params = (start_ns, end_ns, *hosts, *_NEEDED_TYPES)
    imports = (
        f"type = 'import' AND {_field('file_sha256')} IN (SELECT substr({_field('origin')}, 8)"
        f" FROM records WHERE {needed} AND {_field('origin')} LIKE 'import:%')"
    )
    bounds = conn.execute(
        f"SELECT min(seq), max(seq) FROM records WHERE ({needed}) OR ({imports})", params * 2
    )
    first, last = bounds.fetchone() or (None, None)
    if first is None:
        out.write_bytes(b"")
        empty = {"first_seq": None, "last_seq": None, "prev_hash": None, "last_hash": None}
        return {**empty, "records": 0}, None
    vantages = {
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT {_field('vantage')} FROM records"
            f" WHERE seq BETWEEN ? AND ? AND {needed}",
            (first, last, *params),
        )
        if isinstance(row[0], str)
    }
    prev = GENESIS.hex() if first == 1 else _stored_hash(conn, first - 1)
    count, last_hash = 0, None
    with out.open("wb") as stream:
        for seq, digest, payload in conn.execute(
            "SELECT seq, hash, payload FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, last),
        ):
            stream.write(_record_line(seq, digest, payload))
            count, last_hash = count + 1, str(digest)
    entry = {
        "first_seq": first,
        "last_seq": last,
        "prev_hash": prev,
        "last_hash": last_hash,
        "records": count,
    }
    return entry, vantages.pop() if len(vantages) == 1 else None


def _field(name: str) -> str:
    """SQL for one top-level field of a record's payload (NULL where it is not JSON)."""
    text = "CAST(payload AS TEXT)"
    return f"(CASE WHEN json_valid({text}) THEN json_extract({text}, '$.{name}') END)"


def _stored_hash(conn: apsw.Connection, seq: int) -> str | None:
    row = conn.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
    return row[0] if row is not None and isinstance(row[0], str) else None


def _record_line(seq: int, digest: object, payload: object) -> bytes:
    """One records line; a payload that is not UTF-8 (a damaged store) goes as base64."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)  # type: ignore[call-overload]
    line: dict[str, object] = {"seq": seq, "hash": str(digest)}
    try:
        line["payload"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        line["payload_b64"] = base64.b64encode(raw).decode("ascii")
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _checked(member: str, entry: dict[str, object], staged: Path) -> SegmentInfo:
    """Run the verifier's own segment check on what is about to be bundled."""
    with staged.open("rb") as stream:
        count, problem = check_segment((line.rstrip(b"\n") for line in stream), entry)
    first, last = entry["first_seq"], entry["last_seq"]
    return SegmentInfo(
        member,
        str(entry["store"]),
        first if isinstance(first, int) else None,
        last if isinstance(last, int) else None,
        count,
        problem is None,
        problem,
    )


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _chunks(content: Path | bytes) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
        return
    with content.open("rb") as stream:
        yield from iter(lambda: stream.read(1 << 20), b"")


def _refuse_secrets(name: str, content: Path | bytes, secrets: list[Secret]) -> None:
    """Stop before a secret value reaches the zip (records cannot be redacted: they are hashed)."""
    needles = [(s.source, s.reveal().encode("utf-8")) for s in secrets]
    overlap = max((len(n) for _, n in needles), default=0)
    tail = b""
    for chunk in _chunks(content) if needles else ():
        window = tail + chunk
        for source, needle in needles:
            if needle in window:
                raise BundleError(
                    f"{name}: contains the value of a config secret ({source}); bundle not written"
                )
        tail = window[-overlap:]


def _manifest(members: dict[str, Path | bytes]) -> bytes:
    lines = []
    for name in sorted(members):
        digest = hashlib.sha256()
        for chunk in _chunks(members[name]):
            digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {name}\n")
    return "".join(lines).encode("utf-8")


def _partial(zip_path: Path) -> Path:
    return zip_path.with_name(zip_path.name + ".partial")


def _write_zip(zip_path: Path, members: dict[str, Path | bytes], stamp_ns: int) -> str:
    """Write members in name order with one timestamp, then move into place; its SHA-256."""
    when = datetime.fromtimestamp(stamp_ns // 1_000_000_000, tz=UTC)
    date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    partial = _partial(zip_path)
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time)
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o100644 << 16
                info.create_system = 3
                with archive.open(info, "w") as stream:
                    for chunk in _chunks(members[name]):
                        stream.write(chunk)
        os.replace(partial, zip_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BundleError(f"{zip_path}: cannot write the bundle ({exc.strerror or exc})") from None
    digest = hashlib.sha256()
    for chunk in _chunks(zip_path):
        digest.update(chunk)
    return digest.hexdigest()


def redacted_config(config_path: Path, config: Config) -> str:
    """The config file as YAML with every secret replaced by "<redacted>".

    The raw YAML is walked beside the validated model: a value the model holds as a Secret
    (whatever key it sits under) is replaced, `headers` values and `basic_auth.password`
    are replaced even where the model and the file disagree, and any other string holding
    a secret's value is scrubbed. Only the file's own text is used, so `${ENV}` and
    `{file: ...}` are never resolved into the bundle. Comments do not survive.
    """
    try:
        text = config_path.read_text(encoding="utf-8")
        raw = read_yaml_mapping(text, config_path, "vantage, store, targets, ...")
    except (OSError, UnicodeDecodeError, ConfigError) as exc:
        raise BundleError(f"{config_path}: cannot read the config ({exc})") from None
    values = sorted({s.reveal() for s in config.secrets() if s.reveal()}, key=len, reverse=True)
    clean = _redact(raw, config, values, parent=None)
    body = yaml.safe_dump(clean, sort_keys=False, allow_unicode=True, width=100)
    return f"# {config_path.name} as used for this report; secrets replaced by {REDACTED}\n{body}"


def _redact(raw: object, model: object, values: list[str], parent: object) -> object:
    if isinstance(model, Secret):
        return REDACTED
    if isinstance(raw, dict):
        out: dict[object, object] = {}
        for key, item in raw.items():
            clean_key = _scrub(key, values)
            if key == "headers" and isinstance(item, dict):
                out[clean_key] = {_scrub(k, values): REDACTED for k in item}
            elif key == "password" and parent == "basic_auth":
                out[clean_key] = REDACTED
            else:
                out[clean_key] = _redact(item, _child(model, key), values, key)
        return out
    if isinstance(raw, list):
        items = model if isinstance(model, list | tuple) else []
        return [
            _redact(item, items[i] if i < len(items) else None, values, parent)
            for i, item in enumerate(raw)
        ]
    return _scrub(raw, values)


def _child(model: object, key: object) -> object:
    if isinstance(model, BaseModel) and isinstance(key, str) and key in type(model).model_fields:
        return getattr(model, key)
    if isinstance(model, dict):
        return model.get(key)
    return None


def _scrub(value: object, values: list[str]) -> object:
    if not isinstance(value, str):
        return value
    for secret in values:
        if value == secret:
            return REDACTED
        if len(secret) >= 3:
            value = value.replace(secret, REDACTED)
    return value


README_TEXT = """\
slawitness evidence bundle
==========================

Contents
  report/               the report: summary.json (every figure), report.html, report.pdf,
                        charts, CSV files and letter drafts
  records/<name>.jsonl  raw evidence records, one store (vantage) per file, one JSON object
                        per line: {"seq": N, "hash": "<64 hex>", "payload": "<record JSON>"}
  records/chain.json    for each records file: the store, first_seq, last_seq, prev_hash
                        (the stored hash of record first_seq - 1) and last_hash
  config.yml            the monitoring configuration; secrets replaced by <redacted>
  verify.json           the full-store chain verification at bundle time, and the check of
                        each records segment
  MANIFEST.sha256       SHA-256 of every other file

How to check
  1. unzip the bundle, then in its folder:   sha256sum -c MANIFEST.sha256
  2. with slawitness installed:              slawitness verify-bundle BUNDLE.zip
  3. by hand, for each records file: every record's
        hash = SHA-256(prev_hash (32 bytes) || seq (8 bytes, big-endian) || payload (UTF-8))
     where prev_hash is the previous line's hash, and for the first line the prev_hash in
     records/chain.json (32 zero bytes when first_seq is 1); seqs must be consecutive, and
     the last line must have last_seq and last_hash. The payload is the record JSON with
     sorted keys and no spaces, exactly the bytes that were hashed when it was recorded.

Each records file is a contiguous segment of its store's hash chain: it holds every record
from the first to the last one the report depends on, including records of other hosts
measured at the same time, because a segment with gaps could not be checked.

slawitness 证据包
=================

内容
  report/               报告:summary.json(全部数字)、report.html、report.pdf、图表、
                        CSV 文件和投诉信草稿
  records/<名称>.jsonl  原始证据记录,每个存储(观测点)一个文件,每行一个 JSON 对象:
                        {"seq": 序号, "hash": "64 位十六进制", "payload": "记录 JSON"}
  records/chain.json    每个记录文件的来源存储、first_seq、last_seq、prev_hash(第
                        first_seq - 1 条记录的哈希)和 last_hash
  config.yml            监测配置,密码、令牌等机密已替换为 <redacted>
  verify.json           打包时整个存储的哈希链校验结果,以及每个记录片段的校验结果
  MANIFEST.sha256       其他所有文件的 SHA-256

如何校验
  1. 解压后在该目录中运行:        sha256sum -c MANIFEST.sha256
  2. 已安装 slawitness 时运行:    slawitness verify-bundle 证据包.zip
  3. 手工校验每个记录文件:每条记录的
        hash = SHA-256(prev_hash(32 字节)|| seq(8 字节,大端序)|| payload(UTF-8))
     prev_hash 为上一行的 hash;第一行使用 records/chain.json 中的 prev_hash(first_seq
     为 1 时为 32 个零字节);序号必须连续,最后一行的序号和哈希须等于 last_seq 和
     last_hash。payload 即记录时被哈希的原始字节(键排序、无空格的 JSON)。

每个记录文件都是其存储哈希链中连续的一段:从报告所依据的第一条记录到最后一条记录,
其间同时测量的其他主机的记录也包含在内,因为有缺口的片段无法校验。
"""
