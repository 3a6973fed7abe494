"""`slawitness init --provider NAME`: the example config, its target's SLA terms a preset's.

The template stays the one commented example; only its target's `sla:` block is swapped for
the preset's, with the figures the user must fill in left as `"<fill in>"` so that
`check-config` names them until they are.
"""

from __future__ import annotations

from collector.config.presets import example_sla_block


def with_provider_sla(template: str, name: str) -> str:
    """The example config with its target's `sla:` block replaced by the preset `name`'s.

    The block runs from the target's `sla:` line to the next line indented no deeper (the
    controls' comment), as the template writes it."""
    lines = template.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "sla:")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent + " ")):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # the blank lines after the block stay
    block = example_sla_block(name, indent)
    return "\n".join([*lines[:start], *block, *lines[end:]]) + "\n"
