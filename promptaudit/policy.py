"""The policy: which files are prompts, which guardrails they must keep, who may approve.

One frozen object, passed around; `promptaudit.policy_load` reads and validates it from
`promptaudit.toml` (or the built-in default policy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from promptaudit.findings import SEVERITIES
from promptaudit.globs import Globs
from promptaudit.names import POLICY_FILES, RESERVED_PREFIX
from promptaudit.needles import Needle, required_literals
from promptaudit.text import normalize

# os.path, not pathlib: pathlib costs the hook about 5 ms of imports.
DEFAULT_PROMPT_KEYS = ("system", "system_prompt", "instructions")
DEFAULT_MAX_PROMPT_BYTES = 1024 * 1024

_EMAIL = re.compile(
    r"^(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>@\s]+@[^<>\s]+)>|(?P<bare>[^<>@\s]+@[^<>\s]+))$"
)


def email_of(identity: str) -> str | None:
    """The email in `Name <email>` or a bare `email`, lower-cased; None when there is none."""
    m = _EMAIL.match(identity.strip())
    if not m:
        return None
    return (m.group("angle") or m.group("bare")).lower()


_REGEX_SYNTAX = re.compile(r"\\[bBwWsSdDAZ]|\(\?(?:<?[=!]|:)|[()\[\]{}|?*+.^$\\,]|\d")


def _names_punctuation(pattern: str) -> bool:
    """Does PATTERN mention a character that normalization turns into a space?"""
    if re.search(r"\\[^\w\s]", pattern):  # an escaped literal: \. \- \'
        return True
    return bool(re.search(r"[^\w\s]", _REGEX_SYNTAX.sub(" ", pattern)))


# -- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What guardrails and forbidden entries share: an id, a severity and a way to match."""

    id: str
    description: str
    severity: str
    phrases: tuple[str, ...]
    patterns: tuple[str, ...]
    paths: tuple[str, ...]
    reviewers: tuple[str, ...]
    # How many distinct reviewers must approve, and groups that must each supply one.
    approvals: int = 1
    require_groups: tuple[str, ...] = ()

    @cached_property
    def match_key(self) -> tuple[object, ...]:
        """What matching depends on: equal keys match alike, so their answers can be shared."""
        return (
            type(self).__name__,
            self.id,
            self.phrases,
            self.patterns,
            getattr(self, "directive", False),
        )

    @cached_property
    def norm_phrases(self) -> tuple[str, ...]:
        return tuple(p for p in (normalize(x) for x in self.phrases) if p)

    @cached_property
    def padded_phrases(self) -> tuple[str, ...]:
        """The phrases with a space at each end: one in a clause's norm, padded alike, is a
        whole-word match (see text.contains_phrase)."""
        return tuple(f" {p} " for p in self.norm_phrases)

    @cached_property
    def regex_prefixes(self) -> tuple[tuple[str, ...] | None, ...]:
        """For each pattern, texts one of which any match must contain (None: no such test)."""
        return tuple(
            None if found is None else tuple(text for text, _, _ in found)
            for found in self.regex_needles
        )

    @cached_property
    def regex_needles(self) -> tuple[tuple[Needle, ...] | None, ...]:
        return tuple(required_literals(p) for p in self.patterns)

    @cached_property
    def light_regexes(self) -> tuple[re.Pattern[str], ...]:
        """The patterns that name punctuation, and so must also be tried on the clause with its
        punctuation kept; the others can only match where the normalized clause matches."""
        return tuple(
            rx for rx, p in zip(self.regexes, self.patterns, strict=True) if _names_punctuation(p)
        )

    @cached_property
    def regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)

    @cached_property
    def path_globs(self) -> Globs:
        return Globs(self.paths)

    def applies_to(self, path: str) -> bool:
        return not self.paths or self.path_globs.match(path)


@dataclass(frozen=True)
class Guardrail(Rule):
    required: bool = False
    # Counts only clauses that read as rules (never, must, do not, refuse, ...).
    directive: bool = False
    # "file": every file it applies to keeps it; "set": the files of its paths together do.
    scope: str = "file"


@dataclass(frozen=True)
class Forbidden(Rule):
    pass


@dataclass(frozen=True)
class Policy:
    """One validated policy; `source` says where it came from, for every message."""

    source: str
    prompts: tuple[str, ...]
    guardrails: tuple[Guardrail, ...]
    forbidden: tuple[Forbidden, ...]
    reviewers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_branch: str | None = None
    block_at: str = "medium"
    extends: str | None = None
    disable: tuple[str, ...] = ()
    strict: bool = False
    prompt_keys: tuple[str, ...] = DEFAULT_PROMPT_KEYS
    max_prompt_bytes: int = DEFAULT_MAX_PROMPT_BYTES
    # Repository path of an SSH allowed-signers file, read at BASE, for signed approvals.
    allowed_signers: str | None = None
    require_signed: bool = False
    # How a reworded clause is lined up with its successor: "default" or "semantic".
    matching: str = "default"
    is_default: bool = False
    path: str | None = None  # repository path of the policy file it was read from
    text: str = ""

    @cached_property
    def prompt_globs(self) -> Globs:
        return Globs(self.prompts)

    def is_prompt(self, path: str) -> bool:
        if path.startswith(RESERVED_PREFIX) or path in POLICY_FILES:
            return False
        return self.prompt_globs.match(path)

    def blocks(self, severity: str) -> bool:
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.block_at)

    def expand_reviewers(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Groups replaced by their members; order kept, duplicates (by email) dropped."""
        out: list[str] = []
        seen: set[str] = set()
        for name in names:
            for member in self.reviewers.get(name, (name,)):
                key = email_of(member) or member
                if key not in seen:
                    seen.add(key)
                    out.append(member)
        return tuple(out)

    def entry(self, entry_id: str) -> Guardrail | Forbidden | None:
        entries: tuple[Guardrail | Forbidden, ...] = (*self.guardrails, *self.forbidden)
        for e in entries:
            if e.id == entry_id:
                return e
        return None

    def line_of(self, entry_id: str) -> int:
        """The line of `id = "ENTRY"` in the policy text, for locating findings; 1 if unknown."""
        return line_of_key(self.text, "id", entry_id) or 1


def line_of_key(
    text: str, key: str, value: str | None = None, start: int = 0, end: int | None = None
) -> int | None:
    """The line of `KEY = ...` (or `KEY = "VALUE"`) in TEXT[START:END]; None when absent."""
    # `[ \t]*`, not `\s*`: a match must not start on a blank line above the key.
    if value is None:
        rx = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=", re.M)
    else:
        rx = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=[ \t]*[\"']{re.escape(value)}[\"']", re.M)
    m = rx.search(text, start, len(text) if end is None else end)
    return text.count("\n", 0, m.start()) + 1 if m else None
