"""The bundle's `verify.py`: slawitness's own checking code, as one standard-library script.

A bundle's reader should not have to install slawitness, or take its word, to check the
evidence. So `verify.py` is built, never written by hand: the sources of the exception
tree their errors belong to (`errors`), of the modules that define the record format
(`chain`, specified in docs/record-format.md), Merkle trees (`merkle`), signature checks
(`signature_check`), signed checkpoints (`signed_note`), proof files (`proof_check`) and
the bundle checks themselves (`bundle_members`, `bundle_proof_check`, `snapshot_check`,
`bundle_attachment_check`, `bundle_check`) are concatenated in dependency order
with their `from __future__` and `from collector... import` statements removed (the names
those import are defined earlier in the same file), one `from __future__ import
annotations` on top and an entry point calling `bundle_check.main` at the end. `python3
verify.py` in the unzipped folder therefore runs exactly the checks `slawitness
verify-bundle` runs, and a reader can audit the few hundred lines it executes.

Signatures are checked with `cryptography` when it is installed, else with the `openssl`
command; when neither is there the script checks everything else, says plainly that the
signatures were not checked (`signed_note.CryptoMissing`) and fails unless the reader passed
`--accept-unchecked-signatures`: Ed25519 is never re-implemented. Building refuses a module
that imports anything outside the standard library at its top level (a lazy import inside a
function stays lazy) and two modules that bind the same top-level name, which concatenated
would silently replace one another.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Sequence
from importlib import resources

from collector import __version__
from collector.portable.errors import ReportError

MODULES = (
    "errors",
    "chain",
    "merkle",
    "signature_check",
    "signed_note",
    "cosignature",
    "tlog_policy",
    "proof_check",
    "tlog_proof",
    "bundle_members",
    "bundle_witness_check",
    "bundle_proof_check",
    "snapshot_check",
    "bundle_attachment_check",
    "bundle_check",
)
"""Embedded in this order: each imports only from those before it."""

_HEADER = '''\
#!/usr/bin/env python3
"""Check this slawitness evidence bundle.

    python3 verify.py                  (in the unzipped bundle's folder)
    python3 verify.py BUNDLE_DIR       (or BUNDLE.zip)
    python3 verify.py --accept-unchecked-signatures [BUNDLE_DIR | BUNDLE.zip]
    python3 verify.py --policy FILE    (a C2SP tlog-policy the cosignatures must meet)

Checks MANIFEST.sha256, each records/*.jsonl hash chain against records/chain.json, each
records/*.sqlite snapshot against its records file, each proofs/*/ checkpoint and
inclusion proof, and each attachments/<sha256>/ document against its hash; prints one
line per finding, then OK (exit 0) or FAILED (exit 1).
Python 3.11 or later, standard library only. Ed25519 signatures are checked with the
`cryptography` package when it is installed, else with the `openssl` command (OpenSSL 3);
when neither is there the script says so and fails, unless given
--accept-unchecked-signatures. The record format is specified in docs/record-format.md
of the slawitness repository.

Built by slawitness {version} from its modules, concatenated unchanged except for their
import lines, so this file is the code `slawitness verify-bundle` runs:
{modules}
"""

from __future__ import annotations
'''

_ENTRY = """

if __name__ == "__main__":
    raise SystemExit(main(default=Path(__file__).resolve().parent))
"""


def _path(module: str) -> str:
    """Where an embedded module's source lives in the repository, as verify.py names it."""
    return f"collector/portable/{module}.py"


class BuildError(ReportError):
    """An embedded module would not work inside verify.py (one line naming it)."""


def _embedded(module: str, source: str) -> tuple[str, set[str], set[str]]:
    """The module's source without its future and collector imports; the top-level names it
    defines and the names it imports from the standard library."""
    tree = ast.parse(source, filename=_path(module))
    drop: set[int] = set()
    defined: set[str] = set()
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            if isinstance(node, ast.ImportFrom):
                roots = {"" if node.level else (node.module or "").split(".")[0]}
            else:
                roots = {alias.name.split(".")[0] for alias in node.names}
            if roots <= {"__future__", "collector"}:
                drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                continue
            if not roots <= sys.stdlib_module_names:
                outside = ", ".join(sorted(roots - sys.stdlib_module_names))
                raise BuildError(f"{_path(module)} imports {outside!r} at its top level")
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    lines = source.splitlines(keepends=True)
    kept = "".join(line for number, line in enumerate(lines, 1) if number not in drop)
    return kept, defined, imported


def verify_script(modules: Sequence[str] = MODULES) -> str:
    """The text of verify.py, built from the installed modules' sources (BuildError when
    one of `modules` would not work embedded)."""
    named = textwrap.fill(", ".join(_path(m) for m in modules), 88)
    parts = [_HEADER.format(version=__version__, modules=named)]
    owner: dict[str, str] = {}
    imported_by: dict[str, str] = {}
    for module in modules:
        source = resources.files("collector.portable").joinpath(f"{module}.py").read_text("utf-8")
        kept, defined, imported = _embedded(module, source)
        for name in defined:
            other = owner.get(name) or imported_by.get(name)
            if other is not None:
                raise BuildError(f"collector/portable/{module}.py and {other} both bind {name!r}")
            owner[name] = _path(module)
        for name in imported:
            if name in owner:
                raise BuildError(f"{_path(module)} imports {name!r}, which {owner[name]} defines")
            imported_by.setdefault(name, _path(module))
        parts.append(f"\n\n# ---- {_path(module)} " + "-" * (61 - len(module)) + "\n\n")
        parts.append(kept)
    parts.append(_ENTRY)
    text = "".join(parts)
    compile(text, "verify.py", "exec")
    return text
