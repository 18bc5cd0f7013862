"""Required literals: the cheap substring tests that spare most clauses a regular expression.

A match of a pattern must contain each of its mandatory elements, so if one of them is a word
or a choice of words, a normalized clause that contains none of them cannot match. Matching
asks this of each pattern before running it, and a history walk asks it of a whole policy at
once (`needle_regex`), because most clauses of a prompt are on no guardrail's topic.

Normalized text is lower-case words of letters and digits separated by single spaces, so a
literal the pattern places at a word boundary (`\\b`, `^`, or after a literal space) can be
looked for at word starts only: "lie" then no longer matches "client" or "believe".
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# A needle: the lower-cased text, and whether it can only occur at the start of a word.
Needle = tuple[str, bool]

# Words so common in prompts that a needle made of them spares almost nothing: when a pattern
# offers a choice, the test uses one of its rarer elements instead.
_COMMON = frozenset(
    [
        "a",
        "an",
        "and",
        "answer",
        "any",
        "are",
        "be",
        "can",
        "cannot",
        "do",
        "dont",
        "end",
        "is",
        "may",
        "must",
        "never",
        "no",
        "not",
        "of",
        "or",
        "request",
        "requests",
        "should",
        "the",
        "to",
        "will",
        "you",
    ]
)


def required_literals(pattern: str) -> tuple[Needle, ...] | None:
    """Needles one of which every match of PATTERN contains; None when no such test exists."""
    # The standard library's own regex parser (not a public module, hence no type stubs).
    sre: Any = importlib.import_module("re._parser")
    try:
        parsed = list(sre.parse(pattern))
    except Exception:  # an unusual pattern: no shortcut, the regex alone decides
        return None
    found = _Reader(importlib.import_module("re._constants")).sequence(parsed, at_word=False)
    return found[0] if found else None


class _Reader:
    """Walks the parsed pattern; each mandatory element offers a set of needles and a score."""

    def __init__(self, c: Any) -> None:
        self.c = c
        self.boundaries = (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING)
        self.repeats = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None))

    def sequence(self, items: list[Any], *, at_word: bool) -> tuple[tuple[Needle, ...], int] | None:
        c = self.c
        offers: list[tuple[tuple[Needle, ...], int]] = []
        run, run_at_word = "", False
        boundary = at_word  # is the next element known to start a word?

        def flush() -> None:
            text, word_start = run.lower(), run_at_word
            if text.startswith(" "):
                text, word_start = text.lstrip(" "), True
            if text.strip():
                offers.append((((text, word_start),), _score(text)))

        for op, av in items:
            if op is c.LITERAL:
                if not run:
                    run_at_word = boundary
                run += chr(av)
                boundary = False
                continue
            here = boundary or run.endswith(" ")
            flush()
            run = ""
            boundary = op is c.AT and av in self.boundaries
            found: tuple[tuple[Needle, ...], int] | None = None
            if op is c.SUBPATTERN:
                found = self.sequence(list(av[3]), at_word=here)
            elif op is c.BRANCH:
                found = self.branch(av[1], at_word=here)
            elif op in self.repeats and av[0] >= 1:
                found = self.sequence(list(av[2]), at_word=here)
            if found:
                offers.append(found)
        flush()
        if not offers:
            return None
        return max(offers, key=lambda offer: (offer[1], -len(offer[0])))

    def branch(
        self, alternatives: list[Any], *, at_word: bool
    ) -> tuple[tuple[Needle, ...], int] | None:
        needles: list[Needle] = []
        score = None
        for alternative in alternatives:
            found = self.sequence(list(alternative), at_word=at_word)
            if not found:
                return None  # an alternative with no literal: the choice guarantees nothing
            needles += found[0]
            score = found[1] if score is None else min(score, found[1])
        return (tuple(dict.fromkeys(needles)), score or 0)


def _score(text: str) -> int:
    """How much a needle spares: longer is rarer, common words count for little."""
    return len(text) - 4 * sum(w in _COMMON for w in text.split())


def needle_regex(needles: Iterable[Needle]) -> re.Pattern[str]:
    """One expression that finds any of NEEDLES in normalized text (a trie: one pass, no
    backtracking over hundreds of alternatives)."""
    at_word = sorted({t for t, w in needles if w})
    anywhere = sorted({t for t, w in needles if not w})
    parts = []
    if at_word:
        parts.append(r"(?:^|(?<= ))" + _trie(at_word))
    if anywhere:
        parts.append(_trie(anywhere))
    return re.compile("|".join(parts) or r"(?!)")


def _trie(words: list[str]) -> str:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:
            return ""  # a needle ends here: finding it is enough, whatever follows
        alternatives = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return build(root)
