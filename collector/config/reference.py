"""The configuration reference, written from the config models so the docs cannot drift.

Each key's type, default and constraints are read from the pydantic models, its description
from the field's docstring, and the probe kinds from the registry. After changing a model,
regenerate the document with `python -m collector.config.reference > docs/config-reference.md`;
`tests/test_config_reference.py` fails until it matches.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ByteSize
from pydantic.fields import FieldInfo

from collector.config.model import Config
from collector.config.secrets import Secret
from collector.config.sla_terms import PERCENT
from collector.core.durations import format_duration, parse_duration
from collector.probes import KINDS, ProbeKind, ProbeSpec

REGENERATE = "python -m collector.config.reference > docs/config-reference.md"
PROBE_PATH = "probes[]"

_HEADER = f"""# Configuration reference

This file is generated from the config models (`collector/config/model.py`,
`collector/config/sla_terms.py`, `collector/probes/`); do not edit it by hand. Regenerate it with

    {REGENERATE}

Keys are written as YAML paths: `targets[]` is any entry of the `targets` list, and
`{PROBE_PATH}` any entry of a target's or a control's `probes`. Durations are written `250ms`,
`30s`, `5m`, `1h30m` or `1d` (a bare number means seconds); percentages as the contract writes
them (`99.9`). Unknown keys are refused; run `slawitness check-config` after editing.
"""

_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Decimal: "decimal number",
    Path: "file path",
    datetime: "date and time with a zone (`2026-10-25T02:00:00Z`)",
    ByteSize: "size (`100MiB`, `20MB`)",
    date: "date (`2026-10-01`)",
    Secret: "secret (text, `${ENV_VAR}` or `{file: PATH}`)",
}
_COUNTABLE = {"string", "integer", "number", "mapping", "probe"}
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


@dataclass(frozen=True)
class _Section:
    """One mapping of the config file: where it sits, its model, and the keys to list."""

    path: str
    model: type[BaseModel]
    keys: tuple[str, ...]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _nested(annotation: Any, path: str) -> Iterator[tuple[type[BaseModel], str]]:
    """The mappings a key's value holds, with their paths; probes get a chapter of their own."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated or _is_union(origin):
        for arg in args[:1] if origin is Annotated else args:
            yield from _nested(arg, path)
    elif origin is list:
        yield from _nested(args[0], f"{path}[]")
    elif origin is dict:
        yield from _nested(args[1], f"{path}.<name>")
    elif _is_model(annotation) and not issubclass(annotation, ProbeSpec):
        yield annotation, path


def _walk(model: type[BaseModel], path: str, keys: Sequence[str] | None = None) -> list[_Section]:
    """The model's section, then the sections of every mapping below it, depth first."""
    keys = tuple(model.model_fields) if keys is None else tuple(keys)
    sections = [_Section(path, model, keys)]
    for key in keys:
        for child, child_path in _nested(model.model_fields[key].annotation, _join(path, key)):
            sections.extend(_walk(child, child_path))
    return sections


def _is_duration(metadata: Sequence[object]) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in metadata)


def _plural(text: str) -> str:
    noun, _, rest = text.partition(" ")
    return f"{noun}s {rest}".rstrip() if noun in _COUNTABLE else text


def _yaml_type(annotation: Any, metadata: Sequence[object], path: str) -> str:
    """The value's type as a YAML user writes it; `path` names the mapping it may hold."""
    if _is_duration(metadata):
        return "duration (`30s`, `5m`)"
    if PERCENT in metadata:
        return "percent (`99.9` is 99.9 %)"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _yaml_type(args[0], args[1:], path)
    if origin is Literal:
        values = ", ".join(f"`{value}`" for value in args)
        return values if len(args) == 1 else f"one of {values}"
    if _is_union(origin):
        kinds = (_yaml_type(arg, (), path) for arg in args if arg is not type(None))
        return " or ".join(dict.fromkeys(kinds))
    if origin is list:
        return f"list of {_plural(_yaml_type(args[0], (), f'{path}[]'))}"
    if origin is dict:
        key, value = (_yaml_type(arg, (), f"{path}.<name>") for arg in args)
        return f"mapping of {key} to {value}"
    if _is_model(annotation):
        return (
            "probe (see Probes)" if issubclass(annotation, ProbeSpec) else f"mapping (see `{path}`)"
        )
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    """`required`, or the default as it would be written in the file."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "the defaults of its keys"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, ByteSize):
        return f"`{value.human_readable(separator=' ')}`"
    if isinstance(value, float) and _is_duration(field.metadata):
        return f"`{format_duration(value)}`"
    return f"`{value}`"


def _constraints(field: FieldInfo) -> str:
    """The bounds, lengths and pattern pydantic checks; other rules are in the description."""
    one, many = (
        ("entry", "entries")
        if get_origin(field.annotation) is list
        else ("character", "characters")
    )
    found: list[str] = []
    for rule in field.metadata:
        for name, sign in _BOUNDS:
            if (bound := getattr(rule, name, None)) is not None:
                found.append(f"{sign} {bound}")
        for name, word in (("min_length", "at least"), ("max_length", "at most")):
            if (count := getattr(rule, name, None)) is not None:
                found.append(f"{word} {count} {one if count == 1 else many}")
        if (pattern := getattr(rule, "pattern", None)) is not None:
            found.append(f"matches `{pattern}`")
    return ", ".join(found)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _intro(model: type[BaseModel]) -> str:
    """The first paragraph of the model's docstring, on one line."""
    return " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())


def _section_lines(
    section: _Section, level: int, title: str, types_given: Mapping[str, str]
) -> list[str]:
    """A heading, the model's intro, and one table row per key."""
    lines = ["", f"{'#' * level} {title}", "", _intro(section.model), ""]
    lines += ["| key | type | default | constraints | description |", "|---|---|---|---|---|"]
    for key in section.keys:
        field = section.model.model_fields[key]
        path = _join(section.path, key)
        kind = types_given.get(key) or _yaml_type(field.annotation, field.metadata, path)
        cells = (f"`{path}`", kind, _default(field), _constraints(field), field.description or "")
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def _sections_lines(sections: list[_Section], level: int) -> list[str]:
    """Every section at one heading level; a path with several forms names each form."""
    paths = [section.path for section in sections]
    lines: list[str] = []
    for section in sections:
        title = f"`{section.path}`" if section.path else "Top level"
        if paths.count(section.path) > 1:
            words = re.sub(r"(?<!^)(?=[A-Z])", " ", section.model.__name__).lower()
            title += f" ({words})"
        lines += _section_lines(section, level, title, {})
    return lines


def _probe_chapter(kinds: Mapping[str, ProbeKind]) -> list[str]:
    """The keys every probe takes, once, then each kind's own keys, in the registry's order."""
    lines = [
        "",
        "## Probes",
        "",
        "Each entry of `targets[].probes` and `controls[].probes` is one probe; its `kind`",
        "decides which keys it takes besides the common ones.",
    ]
    common = _Section(PROBE_PATH, ProbeSpec, tuple(ProbeSpec.model_fields))
    kind_type = "one of " + ", ".join(f"`{name}`" for name in kinds)
    lines += _section_lines(common, 3, "Keys of every probe", {"kind": kind_type})
    for name, kind in kinds.items():
        own = [key for key in kind.spec.model_fields if key not in ProbeSpec.model_fields]
        first, *nested = _walk(kind.spec, PROBE_PATH, own)
        lines += _section_lines(first, 3, f"`kind: {name}`", {})
        lines += _sections_lines(nested, 4)
    return lines


def documented_models(
    root: type[BaseModel] = Config, kinds: Mapping[str, ProbeKind] = KINDS
) -> list[type[BaseModel]]:
    """Every model the reference describes, once each, so tests can hold them all to it."""
    found = [section.model for section in _walk(root, "")] + [ProbeSpec]
    for kind in kinds.values():
        found += [section.model for section in _walk(kind.spec, PROBE_PATH)]
    return list(dict.fromkeys(found))


def reference_markdown(
    root: type[BaseModel] = Config, kinds: Mapping[str, ProbeKind] = KINDS
) -> str:
    """The whole reference as Markdown; the same models always give the same text."""
    lines = [_HEADER.rstrip("\n"), *_sections_lines(_walk(root, ""), 2), *_probe_chapter(kinds)]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the reference, for `python -m collector.config.reference > docs/...`."""
    sys.stdout.write(reference_markdown())


if __name__ == "__main__":
    main()
