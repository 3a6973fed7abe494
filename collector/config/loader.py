"""Reading `slawitness.yml` from disk, and turning every way it can be wrong into one line each.

Kept apart from the model (`collector.config.model`) so the model stays a plain description of the
file, and this module holds the YAML and error-message plumbing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collector.config.model import Config
from collector.config.yaml_limits import bounded_int, check_yaml_limits
from collector.core.bounded_read import CONFIG_LIMIT, read_text_bounded
from collector.portable.errors import UsageError


class ConfigError(UsageError):
    """A config that cannot be used; each line names the file, the key path and the problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    def stderr_lines(self) -> Sequence[str]:
        """Each line already names the config file it is about, so none names the program."""
        return self.lines


_FastSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: a 200-target config parses 5x faster."""


class _UniqueKeyLoader(_FastSafeLoader):  # type: ignore[valid-type,misc]
    """Safe YAML that refuses duplicate keys and leaves timestamps as text for pydantic."""


_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (line {mark.line + 1})", problem_mark=mark
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", bounded_int)


def load_config(path: Path, *, resolve_secrets: bool = True) -> Config:
    """The validated config at `path`, with a relative `store` resolved against its folder.

    Verbs that only read the store pass `resolve_secrets=False`: exporting evidence must
    not require the probe passwords to be in the environment.
    """
    try:
        text = read_text_bounded(path, CONFIG_LIMIT)
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: config file not found (create one with `slawitness init`)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config: {exc}"]) from None
    return parse_config(text, path, resolve_secrets=resolve_secrets)


def read_yaml_mapping(text: str, path: Path, expected: str) -> dict[str, Any]:
    """A YAML mapping, or ConfigError naming the line; `expected` lists its usual keys."""
    try:
        check_yaml_limits(text)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError([f"{where}: invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:  # e.g. a control character: a reader error, no mark
        problem = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        position = getattr(exc, "position", None)
        where = f"{path}: character {position + 1}" if isinstance(position, int) else str(path)
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys ({expected})"])
    return data


def parse_config(text: str, path: Path, *, resolve_secrets: bool = True) -> Config:
    """Validate config text; `path` names the file in errors and anchors relative paths."""
    data = read_yaml_mapping(text, path, "vantage, store, targets, ...")
    base_dir = path.parent.resolve()
    try:
        context = {"base_dir": base_dir, "resolve_secrets": resolve_secrets}
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in error_lines(exc)]) from None
    return _anchored(config, base_dir)


def _anchored(config: Config, base_dir: Path) -> Config:
    """The config with its relative paths (store, keys, TSA roots, document certificate)
    made relative to base_dir."""

    def anchor(value: Path) -> Path:
        return value if value.is_absolute() else base_dir / value.expanduser()

    checkpoints = config.checkpoints
    stamping = checkpoints.timestamping
    if stamping is not None and stamping.roots is not None:
        stamping = stamping.model_copy(update={"roots": anchor(stamping.roots)})
    if stamping is not None and stamping.authorities is not None:
        authorities = [
            a if a.roots is None else a.model_copy(update={"roots": anchor(a.roots)})
            for a in stamping.authorities
        ]
        stamping = stamping.model_copy(update={"authorities": authorities})
    checkpoints = checkpoints.model_copy(
        update={"key": anchor(checkpoints.key), "timestamping": stamping}
    )
    documents = config.documents
    documents = documents.model_copy(
        update={
            "certificate": anchor(documents.certificate),
            "key": anchor(documents.key),
            "pkcs12": None if documents.pkcs12 is None else anchor(documents.pkcs12),
        }
    )
    return config.model_copy(
        update={"store": anchor(config.store), "checkpoints": checkpoints, "documents": documents}
    )


_MESSAGE_PATH = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.*)$", re.S)


def error_lines(exc: ValidationError) -> list[str]:
    """One `key.path: problem` line per pydantic error, in the file's own vocabulary."""
    lines = []
    for error in exc.errors():
        path = _key_path(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        nested = _MESSAGE_PATH.match(message)
        if nested and error["type"] == "value_error":
            path = f"{path}.{nested.group(1)}" if path else nested.group(1)
            message = nested.group(2)
        if error["type"] == "unknown_kind":
            path = f"{path}.kind"
        message = _plain_message(error["type"], message, error.get("input"))
        line = f"{path}: {message}" if path else message
        lines.append(line.replace("\r", "\\r").replace("\n", "\\n"))  # one line, always
    return list(dict.fromkeys(lines))


def _key_path(loc: tuple[int | str, ...]) -> str:
    """`targets[0].probes[1].timeout` from pydantic's location, without union tags."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif ":" in part or part.startswith(("function-after[", "function-before[")):
            continue
        elif not part.isprintable() or not part.strip() or part != part.strip():
            text += f"[{part!r}]"  # a key of spaces or control characters, shown as such
        else:
            text += f".{part}" if text else part
    return text


def _plain_message(kind: str, message: str, value: object) -> str:
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "unknown_kind" and isinstance(value, dict):
        return message.removeprefix("kind: ") + f" (got {value.get('kind')!r})"
    if kind == "value_error":
        return message
    shown = repr(value) if isinstance(value, str | int | float) else None
    message = message[:1].lower() + message[1:]
    return f"{message} (got {shown})" if shown and "got" not in message else message
