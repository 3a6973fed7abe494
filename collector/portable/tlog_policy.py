"""C2SP tlog-policy files: which logs and witnesses a reader trusts, and the quorum.

A cosignature is worth what its witness is worth to the reader, so the reader, not the
collector, says which witnesses count and how many must agree: "2 of these 3, and one of
those" is a policy line set, the same file Sigsum's and other tools' offline verifiers take.
The collector's own `witnesses: {at_least: K}` is the policy "group K of its servers" built
by `quorum_of`, so both sides evaluate one rule in one place.

Syntax (tlog-policy): `log <vkey> [url]`, `witness <name> <vkey> [url]`,
`group <name> all|any|<k> <member>...`, `quorum <name>|none`, `#` comments; a group or
the quorum may name only what earlier lines defined; exactly one quorum line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.portable.cosignature import CosignerKey
from collector.portable.signed_note import NoteError, VerifierKey

NO_QUORUM = "none"


class PolicyError(NoteError):
    """A policy file that does not follow tlog-policy (one line naming the line)."""


@dataclass(frozen=True)
class Group:
    """At least `threshold` of `members` (witness or group names) must have witnessed."""

    threshold: int
    members: tuple[str, ...]


@dataclass
class Policy:
    logs: list[VerifierKey] = field(default_factory=list)
    witnesses: dict[str, CosignerKey] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NO_QUORUM

    def satisfied(self, cosigned_by: set[str]) -> bool:
        """Whether witnesses with these key names meet the quorum (names of the keys, as in
        their signature lines; the policy's own witness names map to them)."""
        return self._witnessed(self.quorum, cosigned_by)

    def _witnessed(self, name: str, cosigned_by: set[str]) -> bool:
        if name == NO_QUORUM:
            return True
        if name in self.witnesses:
            return self.witnesses[name].name in cosigned_by
        group = self.groups[name]
        done = sum(self._witnessed(m, cosigned_by) for m in group.members)
        return done >= group.threshold

    def describe(self) -> str:
        """The quorum in words: `2 of 2 witnesses (a, b)`, for verdict lines."""
        if self.quorum == NO_QUORUM:
            return "no witness required"
        if self.quorum in self.witnesses:
            return f"witness {self.witnesses[self.quorum].name}"
        group = self.groups[self.quorum]
        names = ", ".join(
            self.witnesses[m].name if m in self.witnesses else m for m in group.members
        )
        return f"{group.threshold} of {len(group.members)} ({names})"


def quorum_of(keys: list[CosignerKey], at_least: int) -> Policy:
    """The policy "at least `at_least` of these witnesses" (the collector's config form)."""
    policy = Policy(witnesses={key.name: key for key in keys})
    if at_least <= 0 or not keys:
        return policy
    if not 1 <= at_least <= len(keys):
        raise PolicyError(f"at least {at_least} of {len(keys)} witnesses cannot be met")
    policy.groups["configured"] = Group(at_least, tuple(policy.witnesses))
    policy.quorum = "configured"
    return policy


def parse_policy(text: str, where: str = "policy") -> Policy:
    """A tlog-policy file's text as a Policy; PolicyError naming `where` and the line."""
    policy = Policy()
    quorums = 0
    seen_keys: set[bytes] = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue
        try:
            quorums += _apply(policy, words, seen_keys)
        except (PolicyError, NoteError) as exc:
            raise PolicyError(f"{where} line {number}: {exc}") from None
    if quorums != 1:
        raise PolicyError(f"{where}: a policy needs exactly one quorum line, found {quorums}")
    return policy


def _apply(policy: Policy, words: list[str], seen_keys: set[bytes]) -> int:
    """Add one line's definition to `policy`; 1 when it was the quorum line."""
    keyword, args = words[0], words[1:]
    defined = set(policy.witnesses) | set(policy.groups)
    if keyword == "log" and 1 <= len(args) <= 2:
        log = VerifierKey.parse(args[0])
        _unique(log.public_key, seen_keys)
        policy.logs.append(log)
        return 0
    if keyword == "witness" and 2 <= len(args) <= 3:
        name = args[0]
        if name in defined or name == NO_QUORUM:
            raise PolicyError(f"the name {name} is defined twice")
        witness = CosignerKey.parse(args[1])
        _unique(witness.public_key, seen_keys)
        policy.witnesses[name] = witness
        return 0
    if keyword == "group" and len(args) >= 3:
        name, threshold, members = args[0], args[1], tuple(args[2:])
        if name in defined or name == NO_QUORUM:
            raise PolicyError(f"the name {name} is defined twice")
        unknown = [m for m in members if m not in defined]
        if unknown or len(set(members)) != len(members):
            raise PolicyError(f"group {name}: members must be defined earlier, each once")
        policy.groups[name] = Group(_threshold(threshold, len(members)), members)
        return 0
    if keyword == "quorum" and len(args) == 1:
        if args[0] != NO_QUORUM and args[0] not in defined:
            raise PolicyError(f"quorum {args[0]}: not defined on an earlier line")
        policy.quorum = args[0]
        return 1
    raise PolicyError(f"not a policy line: {' '.join(words)[:80]}")


def _threshold(word: str, members: int) -> int:
    if word == "all":
        return members
    if word == "any":
        return 1
    if not word.isdigit() or not 1 <= int(word) <= members:
        raise PolicyError(f"threshold {word!r}: expected all, any, or 1 to {members}")
    return int(word)


def _unique(public_key: bytes, seen: set[bytes]) -> None:
    if public_key in seen:
        raise PolicyError("the same public key is listed twice")
    seen.add(public_key)
