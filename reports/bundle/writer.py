"""The evidence bundle: one zip a user attaches to a complaint, checkable by its reader.

Layout (every path is a zip member; `MANIFEST.sha256` covers all the others)::

    MANIFEST.sha256        `<sha256>  <path>` lines: `unzip; sha256sum -c MANIFEST.sha256`
    README.txt             what is inside and how to check it (English, then Chinese)
    config.yml             the config used, secret values replaced by "<redacted>"
    records/<name>.jsonl   per store: a contiguous segment of its hash chain
    records/<name>.sqlite  the same segment as an SQLite file
    records/chain.json     per records file: store, first/last seq, prev_hash, last_hash
    proofs/<name>/...      per store with a signed checkpoint covering its segment: the
                           checkpoint, its public key, inclusion proofs (`bundle_proofs`)
    report/...             every file of the report folder (summary.json, HTML, PDF, ...)
    attachments/<sha256>/<name>   the documents of the report's complaint file
                           (`reports.bundle.attachments`), each under its hash
    custody.json           the custody events of the evidence carried: exports, reports,
                           bundles, backups, seals, attachments, hand-overs, with hashes
    verify.json            each store's `verify` result, each segment's check and anchor
    verify.py              the standalone checker (`reports.bundle.verify_script`)
    versions.json          the slawitness, SQLite and Python versions that made it

`reports.bundle.records` says which records go in. No member may hold a config secret's
value or the private signing key: every member is scanned before the zip is written.

The zip is deterministic: sorted names, one fixed timestamp (the period end), fixed
permissions and compression, so the same inputs give the same bytes and the same SHA-256.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from collector.config.loader import ConfigError, read_yaml_mapping
from collector.config.model import Config
from collector.config.secrets import REDACTED, Secret
from collector.core.bounded_read import CONFIG_LIMIT, read_text_bounded
from collector.core.output_paths import OutputPathError, partial_of, replacing
from collector.portable.bundle_check import CHAIN_FILE, MANIFEST, unsafe_name
from collector.portable.bundle_proof_check import NOT_ANCHORED
from reports.bundle.errors import BundleError
from reports.bundle.proofs import Proofs, versions_json
from reports.bundle.records import SegmentInfo, StagedRecords, json_bytes, stage_records
from reports.bundle.verify_script import BuildError, verify_script

__all__ = [
    "BundleError",
    "BundleInfo",
    "SegmentInfo",
    "StagedRecords",
    "redacted_config",
    "stage_records",
    "write_bundle",
]

CUSTODY_FILE = "custody.json"
"""Where the bundle lists the custody events of the evidence it carries."""

_MIN_SCANNED_SECRET = 6
"""Shorter secret values are too likely to occur by chance in hashes or prose."""


@dataclass(frozen=True)
class BundleInfo:
    """What was written: the zip, its SHA-256, its member count, records and segments."""

    path: Path
    sha256: str
    files: int
    records: int
    segments: list[SegmentInfo]


def write_bundle(
    zip_path: Path,
    *,
    report_dir: Path,
    records: StagedRecords,
    config_path: Path,
    config: Config,
    verify_results: list[dict],
    period_end_ns: int,
    proofs: Proofs | None = None,
    folder: str = "report",
    attachments: Mapping[str, Path] | None = None,
    force: bool = False,
    custody: list[dict[str, Any]] | None = None,
) -> BundleInfo:
    """Write the bundle to `zip_path` (atomically) and describe it; an existing file there
    is replaced only with `force`, and never one that is not a regular file.

    `period_end_ns` dates every member; `proofs` are the signed evidence of the segments
    (none: every segment is said to be chained but not anchored). Raises BundleError when
    the config cannot be read, or when a secret value or the private signing key would end
    up in a member. `attachments` are the documents carried (member name -> stored file);
    `custody` the custody events of the evidence carried (`custody.json`, when given).
    """
    needles = [
        (f"the value of a config secret ({s.source})", s.reveal().encode("utf-8"))
        for s in config.secrets()
        if len(s.reveal()) >= _MIN_SCANNED_SECRET
    ]
    if proofs is not None:
        needles += proofs.forbidden
    members: dict[str, Path | bytes] = dict(_report_members(report_dir, zip_path, folder))
    members.update(records.members)
    members[CHAIN_FILE] = records.chain_bytes
    members["config.yml"] = redacted_config(config_path, config).encode("utf-8")
    anchors = proofs.anchors if proofs is not None else [
        {"member": s.member, "anchored": False, "problem": NOT_ANCHORED} for s in records.segments
    ]  # fmt: skip
    members["verify.json"] = json_bytes(
        {
            "stores": verify_results,
            "segments": [s.__dict__ for s in records.segments],
            "anchors": anchors,
        }
    )
    if proofs is not None:
        members.update(proofs.members)
    members.update(attachments or {})
    if custody is not None:
        members[CUSTODY_FILE] = json_bytes({"events": custody})
    members["README.txt"] = _readme()
    try:
        members["verify.py"] = verify_script().encode("utf-8")
    except BuildError as exc:
        raise BundleError(f"verify.py: cannot be built ({exc})") from None
    members["versions.json"] = versions_json()
    for name, content in members.items():
        _refuse(name, content, needles)
    members[MANIFEST] = _manifest(members)
    digest = _write_zip(zip_path, members, period_end_ns, force)
    count = sum(s.records for s in records.segments)
    return BundleInfo(zip_path, digest, len(members), count, records.segments)


def _readme() -> bytes:
    return resources.files("reports").joinpath("templates/bundle_readme.txt").read_bytes()


def _report_members(
    report_dir: Path, zip_path: Path, folder: str = "report"
) -> Iterator[tuple[str, Path]]:
    """Every regular file under `report_dir` as `<folder>/<relative path>` (`report/`; a
    sealed archive's description goes under `seal/`).

    Symbolic links are left out (they could pull in any file), and so is the bundle itself
    when `--out` points into the report folder, so a rerun does not pack the last bundle.
    """
    if not report_dir.is_dir():
        raise BundleError(f"{report_dir}: report folder not found (run `slawitness report`)")
    own = {zip_path.resolve(), partial_of(zip_path).resolve()}
    for path in sorted(report_dir.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.resolve() in own:
            continue
        name = f"{folder}/" + path.relative_to(report_dir).as_posix()
        if unsafe_name(name) is not None:
            raise BundleError(f"{path}: file name cannot go into a bundle ({unsafe_name(name)})")
        yield name, path


def _chunks(content: Path | bytes) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
        return
    with content.open("rb") as stream:
        yield from iter(lambda: stream.read(1 << 20), b"")


def _refuse(name: str, content: Path | bytes, needles: list[tuple[str, bytes]]) -> None:
    """Stop before a secret reaches the zip (records cannot be redacted: they are hashed).
    `needles` are (what it is, its bytes)."""
    overlap = max((len(n) for _, n in needles), default=0)
    tail = b""
    for chunk in _chunks(content) if needles else ():
        window = tail + chunk
        for what, needle in needles:
            if needle in window:
                raise BundleError(f"{name}: contains {what}; bundle not written")
        tail = window[-overlap:]


def _manifest(members: dict[str, Path | bytes]) -> bytes:
    lines = []
    for name in sorted(members):
        digest = hashlib.sha256()
        for chunk in _chunks(members[name]):
            digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {name}\n")
    return "".join(lines).encode("utf-8")


def _write_zip(zip_path: Path, members: dict[str, Path | bytes], stamp_ns: int, force: bool) -> str:
    """Write members in name order with one timestamp, then move into place; its SHA-256."""
    when = datetime.fromtimestamp(stamp_ns // 1_000_000_000, tz=UTC)
    date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    try:
        with replacing(zip_path, replace=force) as out, zipfile.ZipFile(out, "w") as archive:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time)
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o100644 << 16
                info.create_system = 3
                with archive.open(info, "w") as stream:
                    for chunk in _chunks(members[name]):
                        stream.write(chunk)
    except OutputPathError as exc:
        raise BundleError(f"{zip_path}: cannot write the bundle ({exc.reason})") from None
    except OSError as exc:
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
        text = read_text_bounded(config_path, CONFIG_LIMIT)
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
