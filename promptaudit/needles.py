"""Required literals: the cheap substring tests that spare most clauses a regular expression.

A match of a pattern must contain each of its mandatory elements, so if one of them is a word
or a choice of words, a normalized clause that contains none of them cannot match. Matching
asks this of each pattern before running it, and a history walk asks it of a whole policy at
once (`needle_regex`), because most clauses of a prompt are on no guardrail's topic.

Normalized text is lower-case words of letters and digits separated by single spaces, so a
literal the pattern places at a word boundary (`\\b`, `^`, or after a literal space) can be
looked for at word starts only: "lie" then no longer matches "client" or "believe"; and
likewise at word ends ("ever" is not "every").
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# A needle: the lower-cased text, whether it can only occur at the start of a word, and
# whether only at the end of one.
Needle = tuple[str, bool, bool]

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
    reader = _Reader(importlib.import_module("re._constants"))
    found = reader.sequence(parsed, at_start=False, at_end=False)
    return found[0] if found else None


_Offer = tuple[tuple[Needle, ...], int]


class _Reader:
    """Walks the parsed pattern; each mandatory element offers a set of needles and a score."""

    def __init__(self, c: Any) -> None:
        self.c = c
        self.starts = (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING)
        self.ends = (c.AT_BOUNDARY, c.AT_END, c.AT_END_STRING)
        self.repeats = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None))

    def _ends_word(self, item: Any) -> bool:
        op, av = item
        return bool(
            (op is self.c.AT and av in self.ends) or (op is self.c.LITERAL and chr(av) == " ")
        )

    def sequence(self, items: list[Any], *, at_start: bool, at_end: bool) -> _Offer | None:
        """The best offer of a sequence whose start (end) is known to be a word's, or not."""
        c = self.c
        items = self._unfactored(items)
        offers: list[_Offer] = []
        run, run_start = "", False
        boundary = at_start  # is the next element known to start a word?
        for i, (op, av) in enumerate(items):
            nxt = items[i + 1] if i + 1 < len(items) else None
            ends = at_end if nxt is None else self._ends_word(nxt)
            if op is c.LITERAL:
                if not run:
                    run_start = boundary
                run += chr(av)
                if nxt is None or nxt[0] is not c.LITERAL:
                    offers += _literal(run, run_start, ends)
                    boundary = run.endswith(" ")
                    run = ""
                continue
            here = boundary
            boundary = self._leaves_word_start(op, av, here)
            found: _Offer | None = None
            if op is c.SUBPATTERN:
                found = self.sequence(list(av[3]), at_start=here, at_end=ends)
            elif op is c.BRANCH:
                found = self.branch(av[1], at_start=here, at_end=ends)
            elif op in self.repeats and av[0] >= 1:
                # Only the last of several repetitions is followed by what follows the repeat.
                last = ends and av[1] == 1
                found = self.sequence(list(av[2]), at_start=here, at_end=last)
            if found:
                offers.append(found)
        if not offers:
            return None
        return max(offers, key=lambda offer: (offer[1], -len(offer[0])))

    def _unfactored(self, items: list[Any]) -> list[Any]:
        """ITEMS with each run of literals right before a choice moved into its alternatives.

        The parser moves the start that a choice's alternatives share in front of it:
        "(?:personal|private)" reads as "p(?:ersonal|rivate)", whose needles would then be
        "ersonal" and "rivate", searched for anywhere. Put back, they are whole words.
        """
        c = self.c
        out: list[Any] = []
        run: list[Any] = []
        for item in items:
            if item[0] is c.LITERAL:
                run.append(item)
                continue
            if item[0] is c.BRANCH and run:
                item = (c.BRANCH, (item[1][0], [[*run, *alt] for alt in item[1][1]]))
            else:
                out += run
            run = []
            out.append(item)
        return out + run

    def _leaves_word_start(self, op: Any, av: Any, before: bool) -> bool:
        """Does every match of this element end where only a word can start (after a space
        or a \\b)? BEFORE says so of where it starts, which an element that may match
        nothing passes on: "(no |without (any )?)limits" starts "limits" at a word."""
        c = self.c
        if op is c.LITERAL:
            return chr(av) == " "
        if op is c.AT:
            return av in self.starts
        if op is c.SUBPATTERN:
            return self._sequence_leaves(list(av[3]), before)
        if op is c.BRANCH:
            return all(self._sequence_leaves(list(alt), before) for alt in av[1])
        if op in self.repeats:
            # Whatever a repetition starts after, the last one must end at a word start;
            # and one that may be absent leaves things as they were.
            ends = self._sequence_leaves(list(av[2]), False)
            return ends and (before or av[0] >= 1)
        return False

    def _sequence_leaves(self, items: list[Any], before: bool) -> bool:
        for op, av in items:
            before = self._leaves_word_start(op, av, before)
        return before

    def branch(self, alternatives: list[Any], *, at_start: bool, at_end: bool) -> _Offer | None:
        needles: list[Needle] = []
        score = None
        for alternative in alternatives:
            found = self.sequence(list(alternative), at_start=at_start, at_end=at_end)
            if not found:
                return None  # an alternative with no literal: the choice guarantees nothing
            needles += found[0]
            score = found[1] if score is None else min(score, found[1])
        return (tuple(dict.fromkeys(needles)), score or 0)


def _literal(run: str, starts: bool, ends: bool) -> list[_Offer]:
    text = run.lower()
    if text.startswith(" "):
        text, starts = text.lstrip(" "), True
    if text.endswith(" "):
        text, ends = text.rstrip(" "), True
    return [(((text, starts, ends),), _score(text))] if text.strip() else []


def _score(text: str) -> int:
    """How much a needle spares: longer is rarer, common words count for little, and a
    number is rare ("18" in "under the age of 18" spares more than "under" or "below")."""
    number = any(ch.isdigit() for ch in text)
    return len(text) - 4 * sum(w in _COMMON for w in text.split()) + 4 * number


class Screen:
    """Finds whether normalized text holds any of a set of needles, in a few microseconds.

    The text is padded with a space at each end, so a word start is a space before the
    needle and a word end a space after it: the needles that start words hang off a leading
    literal space (which the regex engine scans for quickly), the others are a second
    search. Both are tries, never a list of hundreds of alternatives tried one by one.
    """

    def __init__(self, needles: Iterable[Needle]) -> None:
        at_word: dict[str, bool] = {}
        anywhere: dict[str, bool] = {}
        for text, starts, ends in needles:
            group = at_word if starts else anywhere
            # Two needles of the same text: the one with no word end to respect wins.
            group[text] = group.get(text, True) and ends
        self._at_word = re.compile(" " + _trie(at_word)) if at_word else None
        self._anywhere = re.compile(_trie(anywhere)) if anywhere else None

    def matches(self, norm: str) -> bool:
        padded = f" {norm} "
        return bool(
            (self._at_word is not None and self._at_word.search(padded))
            or (self._anywhere is not None and self._anywhere.search(padded))
        )


def _trie(words: dict[str, bool]) -> str:
    """A regex for WORDS (text -> must end a word), sharing common prefixes."""
    root: dict[str, Any] = {}
    for word, ends in words.items():
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = ends

    def build(node: dict[str, Any]) -> str:
        alternatives = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if "" in node:
            if not node[""]:
                return ""  # a needle ends here: finding it is enough, whatever follows
            alternatives.append("(?= )")
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return build(root)
