"""The import rules each package's docstring states, held over the sources.

The layout only explains the code while the code keeps to it: a cron round that loads
pandas, a bundle `verify.py` that needs a package its reader lacks, or two packages that
each need the other would all go unnoticed until they hurt. The rules are read from the
sources with `ast` (nothing is imported, so the checks are quick and see function-local
imports too); the cron path is also run once in a child to see what it really loads.

`ALLOWED` is the table of the package docstrings, once: when a docstring changes, so does
its line here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

from tests.clirun import write_config
from tests.rig.loopback import TcpListener

ROOT = Path(__file__).parents[1]
OURS = ("cli", "collector", "reports")
HEAVY = ("pandas", "numpy", "matplotlib")


@dataclass(frozen=True)
class Import:
    """One name an import statement of ours loads."""

    importer: str
    target: str
    line: int
    local: bool
    """Inside a function: runs when the function does, not when the module loads."""
    type_only: bool
    """Under `if TYPE_CHECKING:`: read by mypy, never run."""

    def where(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    """The modules a statement loads: `from a import b` loads `a.b` when b is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    loaded = [f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")]
    return loaded or [base]


def _imports_in(path: Path) -> Iterator[Import]:
    importer = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def visit(node: ast.AST, local: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, importer, path.name == "__init__.py"):
                    yield Import(importer, target, child.lineno, local, type_only)
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            guarded = isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            yield from visit(child, inner, type_only or guarded)

    yield from visit(tree, local=False, type_only=False)


@cache
def all_imports() -> tuple[Import, ...]:
    paths = sorted(p for top in OURS for p in (ROOT / top).rglob("*.py"))
    return tuple(i for path in paths for i in _imports_in(path))


def ours(name: str) -> bool:
    return name.split(".")[0] in OURS


def unit(module: str) -> str:
    """The package a module belongs to, as the rules name them.

    `cli` is one unit; `collector.probes.net` is its own; `reports`' top-level modules are
    each their own. The config's secrets are a unit apart: probe modules read secrets while
    the config validates probes, and the secrets import `collector.core` alone. The error
    tree is a unit apart too: every package raises its errors, the portable verifier included.
    """
    if module == ERRORS:
        return ERRORS
    parts = module.split(".")
    if parts[0] == "cli" or len(parts) == 1:
        return parts[0]
    if parts[:2] == ["collector", "config"] and parts[2:3] in (["secrets"], ["secret_forms"]):
        return "collector.config.secrets"
    if parts[:3] == ["collector", "probes", "net"]:
        return "collector.probes.net"
    return ".".join(parts[:2])


CORE = "collector.core"
ERRORS = "collector.portable.errors"
SECRETS = "collector.config.secrets"
PROBES = ("collector.probes", "collector.probes.net")
COLLECTOR = frozenset(
    {
        "collector",
        CORE,
        "collector.config",
        SECRETS,
        *PROBES,
        "collector.running",
        "collector.evidence",
        "collector.documents",
        "collector.proving",
        "collector.portable",
        "collector.publishing",
        "collector.prometheus",
        "collector.alerts",
        "collector.diagnostics",
        "collector.witnessing",
    }
)
REPORT_MODULES = frozenset(
    f"reports.{p.stem}" for p in (ROOT / "reports").glob("*.py") if p.stem != "__init__"
)
REPORTS = frozenset(
    {"reports", "reports.sla", "reports.sources", "reports.render", "reports.bundle"}
    | REPORT_MODULES
)

ALLOWED: dict[str, frozenset[str]] = {
    unit: frozenset({"collector", ERRORS, *allowed})  # `collector` itself: the version only
    for unit, allowed in {
        ERRORS: set(),
        CORE: set(),
        SECRETS: {CORE},
        "collector.probes.net": {CORE},
        "collector.probes": {CORE, "collector.probes.net", SECRETS},
        "collector.config": {CORE, SECRETS, *PROBES, "collector.portable"},
        "collector.portable": set(),
        "collector.evidence": {CORE, "collector.config", SECRETS, "collector.portable", *PROBES},
        "collector.documents": {CORE, "collector.config", SECRETS, "collector.evidence"},
        "collector.proving": {
            CORE,
            "collector.config",
            SECRETS,
            *PROBES,
            "collector.evidence",
            "collector.portable",
        },
        "collector.publishing": {  # tiles from the stored checkpoints and their cosignatures
            CORE,
            "collector.evidence",
            "collector.portable",
            "collector.proving",
        },
        "collector.alerts": {CORE, "collector.config", SECRETS, "collector.evidence"},
        "collector.diagnostics": {CORE, "collector.config", SECRETS, *PROBES, "collector.evidence"},
        # a witness serves other people's logs: it needs no config, store or probe of ours
        "collector.witnessing": {CORE, "collector.portable"},
        "collector.running": {
            CORE,
            "collector.config",
            SECRETS,
            *PROBES,
            "collector.evidence",
            "collector.portable",
            "collector.proving",
            "collector.alerts",
            "collector.diagnostics",
        },
        "collector.prometheus": {
            CORE,
            "collector.config",
            SECRETS,
            *PROBES,
            "collector.running",
            "collector.evidence",
        },
        "reports.sla": {CORE, "collector.config", SECRETS, "reports.report_text"},
        "reports.render": {
            CORE,
            "collector.documents",
            # the PDFs are signed with the document certificate the config names
            "collector.config",
            SECRETS,
            "collector.proving",
            "reports.report_text",
            "reports.worker_pool",
        },
        "reports.sources": COLLECTOR | {"reports.sla", "reports.worker_pool"},
        "reports.bundle": COLLECTOR | {"reports.sla", "reports.sources", "reports.render"},
        "cli": COLLECTOR | REPORTS,
        **dict.fromkeys(REPORT_MODULES, COLLECTOR | REPORTS),
    }.items()
}
"""What each package may import besides itself, as its `__init__.py` docstring says."""

PORTABLE_LAZY = {
    "collector.portable.signature_check": {"cryptography"},
    "collector.portable.signed_note": {"cryptography"},
    "collector.portable.cosignature": {"cryptography"},
}
"""Inside a function only, and deliberately: a reader without `cryptography` still runs
verify.py, which then checks signatures with openssl or says it could not (a witness's
cosigning key is only ever used by `slawitness witness`, where it is installed)."""


def test_every_package_has_a_rule() -> None:
    units = {unit(i.importer) for i in all_imports()} | {unit(i.target) for i in our_imports()}
    assert units - {"collector", "reports"} <= set(ALLOWED), "a package with no import rule"
    top = [i.where() for i in all_imports() if i.importer in ("collector", "reports")]
    assert top == [], "collector/ and reports/__init__.py hold a docstring and the version only"


def our_imports() -> list[Import]:
    return [i for i in all_imports() if ours(i.target)]


def test_each_package_imports_only_what_its_docstring_allows() -> None:
    broken = [
        f"{i.where()}: {unit(i.importer)} may import only "
        f"{', '.join(sorted(ALLOWED[unit(i.importer)]))}"
        for i in our_imports()
        if unit(i.target) != unit(i.importer) and unit(i.target) not in ALLOWED[unit(i.importer)]
    ]
    assert not broken, "\n".join(broken)


def test_collector_never_imports_reports_or_cli() -> None:
    broken = [
        f"{i.where()}: the collector (the cron path) never imports reports or cli"
        for i in our_imports()
        if i.importer.startswith("collector") and i.target.split(".")[0] in ("reports", "cli")
    ]
    assert not broken, "\n".join(broken)


def test_the_cli_loads_reports_only_inside_a_verb() -> None:
    broken = [
        f"{i.where()} at its top level: cli imports reports only inside a verb"
        for i in our_imports()
        if i.importer.startswith("cli")
        and i.target.split(".")[0] == "reports"
        and not (i.local or i.type_only)
    ]
    assert not broken, "\n".join(broken)


def test_running_never_imports_prometheus() -> None:
    broken = [
        f"{i.where()}: collector.running reaches the exporter through its observer protocol"
        for i in our_imports()
        if unit(i.importer) == "collector.running" and unit(i.target) == "collector.prometheus"
    ]
    assert not broken, "\n".join(broken)


def test_the_portable_verifier_imports_the_standard_library_and_itself() -> None:
    broken = []
    for i in all_imports():
        root = i.target.split(".")[0]
        if unit(i.importer) != "collector.portable" or root in sys.stdlib_module_names:
            continue
        if unit(i.target) in ("collector.portable", ERRORS):
            continue
        if i.local and root in PORTABLE_LAZY.get(i.importer, set()):
            continue
        broken.append(f"{i.where()}: collector.portable imports the standard library only")
    assert not broken, "\n".join(broken)


def test_nothing_in_the_collector_imports_the_heavy_stack() -> None:
    broken = [
        f"{i.where()}: nothing under collector may import {', '.join(HEAVY)}"
        for i in all_imports()
        if i.importer.startswith("collector") and i.target.split(".")[0] in HEAVY
    ]
    assert not broken, "\n".join(broken)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `graph`, as the path around it, or None."""
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            found = walk(nxt, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = walk(start, [])
        if found:
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    first: dict[tuple[str, str], Import] = {}
    for i in our_imports():
        a, b = unit(i.importer), unit(i.target)
        if a != b:
            graph.setdefault(a, set()).add(b)
            first.setdefault((a, b), i)
    cycle = _cycle(graph)
    if cycle is not None:
        steps = [first[step].where() for step in pairwise(cycle)]
        around = " -> ".join(cycle) + ": packages may not import each other\n"
        raise AssertionError(around + "\n".join(steps))


LAZY_ON_PURPOSE = {
    ("cli", "reports"): "the report stack (pandas, matplotlib) stays off the cron path",
    ("cli", "cli.serving"): "prometheus_client loads only for a textfile or the exporter",
    ("cli", "collector.prometheus.remote_write_runner"): "protobuf and cramjam load only"
    " for a config with remote_write",
    ("collector.prometheus.remote_write", "collector.prometheus.remote_write_proto"): "protobuf"
    " loads on the first shipment, not when the config is read",
    ("cli", "cli.demo"): "the demo's servers and the report stack load for `demo` only",
    ("cli", "collector.prometheus.web_config"): "bcrypt and pydantic's TLS models: exporter",
    ("cli", "collector.proving.timestamping"): "the RFC 3161 client loads for timestamps only",
    ("cli", "collector.proving.stamp_coverage"): "k-of-n trusted time, with the timestamps",
    ("cli", "collector.proving.public_tsas"): "the public TSA list loads for `init` only",
    ("cli", "collector.portable.bundle_check"): "the bundle checks load for verify-bundle only",
    ("cli", "collector.evidence.importer"): "the importer loads for `import` only",
    ("cli", "cli.deploy_files"): "deploy templates load for `init --deploy` only",
    ("cli", "collector.proving.document_certificate"): "x509 loads for init, check-config:"
    " check-proof and verify-bundle run where cryptography is not installed",
    ("collector.probes.http", "collector.probes.http_exchange"): "httpx loads with an attempt",
    ("collector.proving.timestamping", "collector.proving.tsa"): "rfc3161-client loads late",
    ("collector.proving.witnessing", "collector.proving.witness_client"): "httpx loads to ask",
    ("reports.render.background", "reports.render"): "imported before the worker fork",
}
"""Function-local imports of our own modules that are there on purpose (a heavy module kept
off a path that does not need it), each with its reason; any other one only hid a cycle."""


def test_function_local_imports_of_our_modules_are_deliberate() -> None:
    def reason(i: Import) -> str | None:
        for (importer, target), why in LAZY_ON_PURPOSE.items():
            if (i.importer == importer or i.importer.startswith(importer + ".")) and (
                i.target == target or i.target.startswith(target + ".")
            ):
                return why
        return None

    hidden = [
        f"{i.where()} inside a function: move it to the top, or name its reason here"
        for i in our_imports()
        if i.local and reason(i) is None
    ]
    assert not hidden, "\n".join(hidden)
    stale = set(LAZY_ON_PURPOSE) - {
        (importer, target)
        for i in our_imports()
        if i.local
        for importer, target in LAZY_ON_PURPOSE
        if i.importer.startswith(importer) and i.target.startswith(target)
    }
    assert not stale, f"no function-local import left for {sorted(stale)}: drop its reason"


def test_probe_round_never_imports_the_report_stack(
    tmp_path: Path, tcp_listener: TcpListener
) -> None:
    target = {
        "name": "open",
        "host": "127.0.0.1",
        "probes": [
            {
                "name": "port",
                "kind": "tcp",
                "port": tcp_listener.port,
                "interval": "1s",
                "timeout": "500ms",
            }
        ],
    }
    config = write_config(tmp_path, [target])
    code = (
        "import sys\n"
        "from cli.main import main\n"
        f"sys.argv = ['slawitness', 'probe', '--config', {str(config)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pandas', 'matplotlib', 'numpy', 'reports'})\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


def test_the_command_loads_without_what_only_some_verbs_need() -> None:
    module = "cli.main"
    code = (
        f"import sys, {module}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        f"{{*{HEAVY!r}, 'reports', 'prometheus_client', 'apprise', 'weasyprint'}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing {module} loads {done.stdout.strip()}"
