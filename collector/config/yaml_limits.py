"""How much YAML a config may hold before it is parsed into Python objects.

PyYAML builds the tree recursively: libyaml's composer overflows the C stack (a segfault)
on a list nested 100,000 deep, the pure-Python one raises RecursionError at a few
thousand, and aliases can make a few lines expand into billions of nodes (the "billion
laughs") that pydantic would then walk. Neither can be caught cleanly once it has started,
so `check_yaml_limits` reads the event stream first, which libyaml produces without
recursion, and refuses a document that nests deeper than `MAX_DEPTH` or whose nodes,
aliases expanded, number more than `MAX_NODES`. `bounded_int` replaces PyYAML's integer
constructor so that a 5000-digit number is a marked YAML error instead of Python's
int-to-string `ValueError`.

Every refusal is a `yaml.MarkedYAMLError` pointing at the offending node, so the config
loader prints it as it prints any other YAML mistake: `FILE:LINE:COLUMN: invalid YAML: ...`.
"""

from __future__ import annotations

from typing import Any

import yaml

from collector.portable.errors import UsageError

MAX_DEPTH = 64
"""A config nests about six levels (targets, a target, probes, a probe, headers); a
web config a few more. Far below where any YAML parser's recursion gets into trouble."""
MAX_NODES = 1_000_000
"""Scalars, lists and mappings after expanding aliases: a config of 10,000 targets holds
about 200,000."""
MAX_INT_DIGITS = 30
"""No config key takes a number near 10^30; Python refuses to parse past 4300 digits."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlTooLarge(yaml.MarkedYAMLError, UsageError):
    """The document nests or expands past the limits; marked at the node that did."""


def _refuse(problem: str, event: yaml.Event) -> YamlTooLarge:
    mark: Any = event.start_mark  # libyaml's Mark or PyYAML's: both have line and column
    return YamlTooLarge(problem=problem, problem_mark=mark)


def check_yaml_limits(text: str) -> None:
    """Raise a marked YAML error when `text` nests or expands past the limits above.

    Malformed YAML is left for the real load to report: the first parse error ends this
    scan without a word, and the load that follows finds it again with its usual message.
    """
    depth = 0
    nodes = 0
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth below it)
    open_anchors: list[tuple[str | None, int, int]] = []  # (anchor, nodes before, depth)
    deepest = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                size, below = sizes.get(str(event.anchor), (1, 0))
                nodes += size
                deepest = max(deepest, depth + below)
                if depth + below > MAX_DEPTH:
                    raise _refuse(f"this alias nests deeper than {MAX_DEPTH} levels", event)
            elif isinstance(event, yaml.CollectionStartEvent):
                nodes += 1
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(f"nested deeper than {MAX_DEPTH} levels", event)
                open_anchors.append((event.anchor, nodes - 1, deepest))
                deepest = depth
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, before, outer_deepest = open_anchors.pop()
                if anchor is not None:
                    sizes[anchor] = (nodes - before, deepest - depth + 1)
                deepest = max(outer_deepest, deepest)
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    sizes[event.anchor] = (1, 0)
            if nodes > MAX_NODES:
                raise _refuse(f"more than {MAX_NODES:,} values (aliases expanded)", event)
    except YamlTooLarge:
        raise
    except yaml.YAMLError:
        pass


def bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """PyYAML's integer, refused with a mark when it has more than MAX_INT_DIGITS digits."""
    digits = sum(char.isdigit() for char in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise YamlTooLarge(
            problem=f"a number of {digits} digits is too long (at most {MAX_INT_DIGITS})",
            problem_mark=node.start_mark,
        )
    value: int = loader.construct_yaml_int(node)
    return value
