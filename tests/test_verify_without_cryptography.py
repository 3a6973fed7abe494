"""The bundle's reader needs nothing installed: Ed25519 signatures without `cryptography`.

The bundle's `verify.py` is run by a real interpreter that cannot import `cryptography`
(`python3 -I -S`: no site-packages at all); `check-proof` and `verify-bundle` are run as
`slawitness` with `cryptography` blocked by a sitecustomize. With the `openssl` command on
PATH the signatures are checked with it, and a forged one fails; with PATH holding neither,
the check fails unless the reader passes `--accept-unchecked-signatures`. The forgeries keep
every hash, Merkle path and the manifest right, so only the signature can tell.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.portable.signature_check import UNCHECKED, _openssl_verifies, public_key_pem
from collector.portable.signed_note import SigningKey
from tests.test_bundle_proofs import _FAILED, _SUCCEEDED, Made, _case, _fix_folder_manifest, _make

ACCEPT = "--accept-unchecked-signatures"
NOT_VERIFIED = "problem: proofs/office/checkpoint.txt: the signature by key office does not verify"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return _make(_case(tmp_path_factory.mktemp("signed"), key=True))


@pytest.fixture
def unzipped(made: Made, tmp_path: Path) -> Path:
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(made.zip_path) as archive:
        archive.extractall(out)
    return out


@pytest.fixture
def nothing_on_path(tmp_path: Path) -> str:
    """A PATH on which there is no `openssl` (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return str(empty)


@pytest.fixture(scope="module")
def blocker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose sitecustomize makes `cryptography` unimportable for slawitness."""
    folder = tmp_path_factory.mktemp("no-cryptography")
    (folder / "sitecustomize.py").write_text('import sys\nsys.modules["cryptography"] = None\n')
    return folder


def _verify_py(
    folder: Path, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python3 -I -S verify.py ARGS` in `folder`: an interpreter without site-packages."""
    env = {"PATH": path if path is not None else os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _slawitness(
    blocker: Path, cwd: Path, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`slawitness ARGS` with `cryptography` blocked (and PATH replaced, when given)."""
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _other_time(note: str) -> str:
    """The checkpoint claims another time; its signature is the old one."""
    return re.sub(r"^time \S+$", "time 2026-09-01T00:00:00Z", note, count=1, flags=re.M)


def _flipped_signature(note: str) -> str:
    text, sep, signature = note.rstrip("\n").rpartition(" ")
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 0x01
    return f"{text}{sep}{base64.b64encode(raw).decode()}\n"


def _forge(folder: Path, change: Callable[[str], str]) -> None:
    """Change the checkpoint note everywhere the bundle holds it, and the manifest."""
    checkpoint = folder / "proofs" / "office" / "checkpoint.txt"
    old = checkpoint.read_text()
    new = change(old)
    assert new != old
    checkpoint.write_text(new)
    for path in (folder / "proofs" / "office").glob("seq-*.json"):
        proof = json.loads(path.read_text())
        assert proof["checkpoint"] == old
        proof["checkpoint"] = new
        path.write_text(json.dumps(proof, ensure_ascii=False, indent=1) + "\n")
    _fix_folder_manifest(folder)


def test_the_interpreters_used_here_really_lack_cryptography(blocker: Path, tmp_path: Path) -> None:
    bare = subprocess.run([sys.executable, "-I", "-S", "-c", "import cryptography"],
                          capture_output=True, check=False)  # fmt: skip
    assert bare.returncode == 1 and b"ModuleNotFoundError" in bare.stderr
    blocked = subprocess.run(
        [sys.executable, "-c", "import cryptography"],
        env={**os.environ, "PYTHONPATH": str(blocker)}, capture_output=True, check=False,
    )  # fmt: skip
    assert blocked.returncode == 1 and b"import of cryptography halted" in blocked.stderr


def test_openssl_checks_a_note_signature_as_cryptography_does() -> None:
    key = SigningKey("test", bytes(range(32)))
    note = key.sign("slawitness/test\n1\n" + "A" * 43 + "=\n")
    line = note.rstrip("\n").rpartition(" ")[2]
    signature = base64.b64decode(line)[4:]
    public = key.verifier().public_key
    message = note.partition("\n\n")[0].encode() + b"\n"
    assert public_key_pem(public).startswith("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA")
    assert _openssl_verifies(public, signature, message)
    assert not _openssl_verifies(public, signature, message + b"x")
    assert not _openssl_verifies(public, bytes(64), message)


def test_a_good_bundle_passes_with_openssl_alone(unzipped: Path) -> None:
    done = _verify_py(unzipped)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signed (signature checked with the openssl command) by key office" in done.stdout
    assert UNCHECKED not in done.stdout
    assert done.stdout.splitlines()[-1].startswith("OK: ")


@pytest.mark.parametrize("change", [_other_time, _flipped_signature])
def test_a_forged_signature_fails_with_openssl(
    unzipped: Path, change: Callable[[str], str]
) -> None:
    _forge(unzipped, change)
    done = _verify_py(unzipped)
    assert done.returncode == 1, done.stdout
    assert NOT_VERIFIED in done.stdout
    assert done.stdout.splitlines()[-1].startswith("FAILED: ")
    assert "changed (SHA-256" not in done.stdout
    with_library = subprocess.run(
        [sys.executable, "verify.py"],
        cwd=unzipped, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert with_library.returncode == 1 and NOT_VERIFIED in with_library.stdout


def test_with_neither_checker_it_fails_unless_the_reader_accepts(
    unzipped: Path, nothing_on_path: str
) -> None:
    done = _verify_py(unzipped, path=nothing_on_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"note: {UNCHECKED}: neither the Python package `cryptography` nor the `openssl`" in (
        done.stdout
    )
    last = done.stdout.splitlines()[-1]
    assert last.startswith("FAILED: ") and ACCEPT in last and "problem:" not in done.stdout
    accepted = _verify_py(unzipped, ACCEPT, path=nothing_on_path)
    assert accepted.returncode == 0, accepted.stdout
    last = accepted.stdout.splitlines()[-1]
    assert last.startswith("OK: ") and "signatures NOT checked" in last


def test_a_forged_bundle_is_not_passed_when_nothing_can_check_it(
    unzipped: Path, nothing_on_path: str
) -> None:
    _forge(unzipped, _other_time)
    done = _verify_py(unzipped, path=nothing_on_path)
    assert done.returncode == 1, done.stdout
    assert "said to be signed (not checked here)" in done.stdout
    accepted = _verify_py(unzipped, ACCEPT, path=nothing_on_path)
    assert accepted.returncode == 0 and "signatures NOT checked" in accepted.stdout


def test_with_neither_checker_everything_else_is_still_checked(
    unzipped: Path, nothing_on_path: str
) -> None:
    seq = next(p for p in (unzipped / "proofs" / "office").glob("seq-*.json"))
    proof = json.loads(seq.read_text())
    proof["proof"][0] = "00" * 32
    seq.write_text(json.dumps(proof))
    lines = unzipped / "records" / "office.jsonl"
    lines.write_bytes(lines.read_bytes().replace(_FAILED, _SUCCEEDED, 1))
    _fix_folder_manifest(unzipped)
    bad = _verify_py(unzipped, ACCEPT, path=nothing_on_path)
    assert bad.returncode == 1, bad.stdout
    assert f"problem: proofs/office/{seq.name}: seq" in bad.stdout
    assert "is not in the checkpoint's tree" in bad.stdout
    assert "records/office.jsonl: seq" in bad.stdout and "hash does not match" in bad.stdout


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("--accept-unchecked",), 2, "verify.py: unknown option --accept-unchecked"),
        ((".", "."), 2, "verify.py: give one bundle"),
        (("--help",), 0, f"usage: python3 verify.py [{ACCEPT}] [BUNDLE_DIR | BUNDLE.zip]"),
    ],
)
def test_verify_py_names_a_wrong_argument(
    unzipped: Path, args: tuple[str, ...], code: int, expected: str
) -> None:
    done = _verify_py(unzipped, *args)
    assert done.returncode == code
    assert expected in done.stdout + done.stderr


def test_check_proof_shares_the_openssl_check(
    made: Made, blocker: Path, tmp_path: Path, nothing_on_path: str
) -> None:
    members = made.members
    name = next(n for n in members if n.startswith("proofs/office/seq-"))
    good, forged = tmp_path / "good.json", tmp_path / "forged.json"
    good.write_bytes(members[name])
    proof = json.loads(members[name])
    proof["checkpoint"] = _other_time(proof["checkpoint"])
    forged.write_text(json.dumps(proof))
    done = _slawitness(blocker, tmp_path, "check-proof", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(checked with the openssl command)" in done.stdout and "proof OK" in done.stdout
    bad = _slawitness(blocker, tmp_path, "check-proof", str(forged))
    assert bad.returncode == 1 and "FAILED: checkpoint: the signature by key office" in bad.stdout
    unchecked = _slawitness(blocker, tmp_path, "check-proof", str(good), path=nothing_on_path)
    assert unchecked.returncode == 1, unchecked.stdout + unchecked.stderr
    assert UNCHECKED in unchecked.stderr and "FAILED: the signature could not be checked" in (
        unchecked.stdout
    )
    accepted = _slawitness(
        blocker, tmp_path, "check-proof", str(forged), ACCEPT, path=nothing_on_path
    )
    assert accepted.returncode == 0 and "proof OK" in accepted.stdout


def test_verify_bundle_shares_the_openssl_check(
    made: Made, blocker: Path, tmp_path: Path, nothing_on_path: str
) -> None:
    done = _slawitness(blocker, tmp_path, "verify-bundle", str(made.zip_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature checked with the openssl command" in done.stdout
    zip_path = str(made.zip_path)
    unchecked = _slawitness(blocker, tmp_path, "verify-bundle", zip_path, path=nothing_on_path)
    assert unchecked.returncode == 1 and f"{UNCHECKED}: install" in unchecked.stdout
    accepted = _slawitness(
        blocker, tmp_path, "verify-bundle", zip_path, ACCEPT, path=nothing_on_path
    )
    assert accepted.returncode == 0 and f"{made.zip_path}: ok," in accepted.stdout
