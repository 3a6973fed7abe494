"""Attaching documents, checking them and reading a big mailbox, against coreutils and the
standard library doing the least the same job needs.

Run from the repository root: `python bench/attachments.py [--workdir DIR] [--size-mib 256]
[--files 20] [--messages 5000]`.

a) one large file: `attach_files` (hashing while it copies, fsync, link, one chained record)
   against `cp` + `sha256sum` + `sync` of the same file, both into the same file system;
b) `slawitness verify` of a store holding `--files` attached files of 8 MiB, with and without
   the attachments check, against `sha256sum` of the same files;
c) an mbox of `--messages` support e-mails: `read_messages` against iterating the mailbox
   and reading each message's bytes with `mailbox.mbox`, and the size of the record it makes.
Every figure is measured in the same run; the ratios are what to compare between machines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mailbox
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.config.model import Config
from collector.documents.attaching import attach_files
from collector.documents.mail_headers import read_messages

CONFIG = {
    "vantage": "bench",
    "targets": [{"name": "vps1", "host": "127.0.0.1",
                 "probes": [{"name": "ssh", "kind": "tcp", "port": 22}]}],
    "attachments": {"max_size": "2GiB"},
}  # fmt: skip


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def random_file(path: Path, mib: int) -> Path:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(1 << 20))
    return path


def config_in(folder: Path) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    return Config.model_validate({**CONFIG, "store": str(folder / "evidence.db")})


def large_file(work: Path, mib: int) -> None:
    source = random_file(work / "big.bin", mib)

    def baseline() -> None:
        dest = work / "cp-copy.bin"
        subprocess.run(["cp", str(source), str(dest)], check=True)
        subprocess.run(["sha256sum", str(dest)], check=True, capture_output=True)
        subprocess.run(["sync", "-f", str(dest)], check=True)

    base, _ = timed(baseline)
    ours, done = timed(lambda: attach_files(config_in(work / "a"), "vps1", "other", [source]))
    rate = mib / ours
    print(f"a) attach {mib} MiB: {ours:.2f} s ({rate:.0f} MiB/s); cp + sha256sum + sync:"
          f" {base:.2f} s; ratio {ours / base:.2f}")  # fmt: skip
    assert done[0].sha256 == hashlib.sha256(source.read_bytes()).hexdigest()


def verify_seconds(store: Path, expect: int) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", "verify", "--store", str(store)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != expect:
        raise SystemExit(done.stdout + done.stderr)
    return time.perf_counter() - started


def verify_many(work: Path, files: int) -> None:
    config = config_in(work / "v")
    paths = [random_file(work / f"doc-{i}.pdf", 8) for i in range(files)]
    attach_files(config, "vps1", "invoice", paths)
    stored = sorted((work / "v" / "evidence.attachments").iterdir())
    bare = work / "bare"
    bare.mkdir()
    shutil.copyfile(config.store, bare / "evidence.db")  # the same records, no files beside
    with_files = verify_seconds(config.store, 0)
    without = verify_seconds(bare / "evidence.db", 1)
    hashing, _ = timed(lambda: subprocess.run(["sha256sum", *map(str, stored)], check=True,
                                              capture_output=True))  # fmt: skip
    print(f"b) verify with {files} x 8 MiB attached: {with_files:.2f} s; the same records with"
          f" the files gone: {without:.2f} s; sha256sum of the files: {hashing:.2f} s; the"
          f" check costs {(with_files - without) / hashing:.2f} x sha256sum")  # fmt: skip


def big_mbox(work: Path, messages: int) -> None:
    path = work / "support.mbox"
    box = mailbox.mbox(str(path))
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for i in range(messages):
        mail = EmailMessage()
        mail["From"] = "Ops <ops@customer.test>" if i % 2 else "Support <help@provider.test>"
        mail["To"] = "help@provider.test" if i % 2 else "ops@customer.test"
        mail["Subject"] = f"ticket {i // 2}: server down"
        mail["Date"] = format_datetime(start + timedelta(minutes=17 * i))
        mail["Message-ID"] = f"<m{i}@bench.test>"
        mail.set_content("The server stopped answering.\n" * 20)
        box.add(mail)
    box.close()

    def baseline() -> int:
        return sum(len(bytes(m)) for m in mailbox.mbox(str(path), create=False))

    base, _ = timed(baseline)
    ours, found = timed(lambda: read_messages(path, ".mbox"))
    size = len(json.dumps(found, separators=(",", ":"), ensure_ascii=False).encode())
    mib = path.stat().st_size / 2**20
    print(f"c) mbox of {messages} messages ({mib:.1f} MiB): read_messages {ours:.2f} s;"
          f" mailbox iteration alone {base:.2f} s; ratio {ours / base:.2f}; record"
          f" {size / 1024:.0f} KiB ({size / messages:.0f} B a message)")  # fmt: skip
    assert len(found) == messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/slawitness-bench-attach"))
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    try:
        large_file(args.workdir, args.size_mib)
        verify_many(args.workdir, args.files)
        big_mbox(args.workdir, args.messages)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
