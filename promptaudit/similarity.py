"""Lining an old clause up with its successor: stemmed content words, topic synonyms, overlap.

Similarity only says which new clause took an old one's place. It never decides whether the
successor kept the rule's force: a permissive rewrite ("you may share the system prompt if
asked nicely") can share more words with the rule than a faithful paraphrase does, which is
why loss of force is judged by fixed rules in matching.py.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from promptaudit.text import normalize

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from promptaudit.clauses import Clause

# Function words, and the modal and negation words whose job is force, not topic.
_STOP = frozenset(
    normalize(w)
    for w in (  # noqa: SIM905 - a word list reads better as one string
        "the a an and or of to in on for with you your is are be been it this that these those "
        "as at by from any all if will would should must may might can could shall not never no "
        "do does dont don't its their them they user users someone anyone anybody people "
        "always under circumstances circumstance ever every each such about into than then "
        "there here which who whom what when where how so also only just even please"
    ).split()
)

# Multi-word names of one thing, read as a single token before anything else.
_PHRASES = [
    (r"\b(?:anyone|anybody|people|persons?|individuals?|users?) (?:under|below|younger than) (?:the age of )?18\b", "minor"),
    (r"\b(?:under|below|younger than) (?:the age of )?18\b", "minor"),
    (r"\b(?:system prompts?|system messages?|system instructions?|hidden instructions?|"
     r"internal instructions?|these instructions|your instructions|initial instructions?|this prompt)\b", "sysprompt"),
    (r"\b(?:personal|private|personally identifiable) (?:data|information|details)\b|\bpii\b", "pii"),
    (r"\bself harm\w*|\bself injur\w*|\bhurt(?:ing)? (?:themselves|yourself|oneself)\b", "selfharm"),
    (r"\bweapons? of mass (?:destruction|casualt\w*)\b|\bmass casualty weapons?\b|\bcbrn\b", "wmd"),
    (r"\bhate speech\b", "hate"),
    (r"\bnon ?consensual\b|\bwithout (?:their |her |his )?consent\b", "nonconsensual"),
    (r"\bmake up\b|\bmade up\b", "fabricate"),
]  # fmt: skip
_PHRASE_RX = [(re.compile(p), token) for p, token in _PHRASES]

# Words with one meaning here, mapped onto one stem.
_SYNONYMS = {
    "minor": "minor", "child": "minor", "children": "minor", "kid": "minor", "underage": "minor",
    "teen": "minor", "teenager": "minor", "youth": "minor", "juvenile": "minor",
    "produce": "produce", "create": "produce", "generate": "produce", "write": "produce",
    "make": "produce", "output": "produce", "provide": "produce", "depict": "produce",
    "content": "content", "material": "content", "imagery": "content", "image": "content",
    "text": "content", "media": "content", "depiction": "content",
    "sexual": "sexual", "sexualiz": "sexual", "sexualis": "sexual", "explicit": "sexual",
    "erotic": "sexual", "nsfw": "sexual", "porn": "sexual", "pornographic": "sexual",
    "reveal": "reveal", "disclose": "reveal", "share": "reveal", "show": "reveal",
    "leak": "reveal", "repeat": "reveal", "divulge": "reveal", "expose": "reveal", "print": "reveal",
    "refuse": "refuse", "decline": "refuse", "reject": "refuse",
    "lie": "lie", "deceive": "lie", "mislead": "lie", "fabricat": "fabricate", "invent": "fabricate",
    "help": "help", "assist": "help", "aid": "help", "support": "help",
    "weapon": "weapon", "arm": "weapon",
    "harass": "harass", "bully": "harass", "intimidat": "harass",
    "request": "request", "ask": "request", "question": "request", "prompt": "request",
}  # fmt: skip

_SUFFIXES = (
    "izations", "ization", "isations", "isation", "ations", "ation", "izing", "ising", "ized",
    "ised", "izes", "ises", "ize", "ise", "ing", "ed", "es", "s", "ly",
)  # fmt: skip


def _stem(word: str) -> str:
    """A light stemmer: enough for "refusing" and "refuse", "sexualized" and "sexual" to meet."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


_BY_STEM = {_stem(word): canonical for word, canonical in _SYNONYMS.items()}


def _canon(word: str) -> str:
    stem = _stem(word)
    return _BY_STEM.get(stem, stem)


@lru_cache(maxsize=65536)
def content_tokens(norm: str) -> frozenset[str]:
    """The clause's content words: phrases joined, stop words dropped, stemmed, synonyms merged."""
    for rx, token in _PHRASE_RX:
        norm = rx.sub(f" {token} ", norm)
    return frozenset(_canon(w) for w in norm.split() if w not in _STOP)


def similarity(a_norm: str, b_norm: str) -> float:
    """Overlap of content words (Jaccard): for lining clauses up, never for judging force."""
    a, b = content_tokens(a_norm), content_tokens(b_norm)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _literal(norm: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in norm.split() if w not in _STOP)


def token_aligner(a: Clause, b: Clause) -> float:
    return similarity(a.norm, b.norm)


def aligner_for(matching: str) -> Callable[[Clause, Clause], float]:
    """The policy's way to line clauses up: token overlap, or that and sentence embeddings.

    Cosine similarity of sentence embeddings is rescaled so that the same thresholds serve
    both: unrelated sentences of one prompt score about 0.3-0.4 in cosine, which maps to 0.
    The semantic score is the higher of the two, so it lines up every pair the default does.
    """
    if matching != "semantic":
        return token_aligner
    from promptaudit.errors import FatalError

    try:
        from promptaudit import semantic
    except ImportError:
        raise FatalError(
            'the policy sets matching = "semantic", but the semantic matcher is not installed',
            "pip install 'promptaudit[semantic]'",
        ) from None
    model = semantic.load()

    def semantic_aligner(a: Clause, b: Clause) -> float:
        # Never less than the token overlap: embeddings may add a successor, not lose one.
        return max(token_aligner(a, b), (model.similarity(a.text, b.text) - 0.4) / 0.6)

    return semantic_aligner


def best_successor(
    clause: Clause,
    candidates: Sequence[Clause],
    threshold: float = 0.25,
    score: Callable[[Clause, Clause], float] | None = None,
) -> Clause | None:
    """The candidate most like CLAUSE, if any reaches THRESHOLD."""
    align = score or token_aligner
    best: Clause | None = None
    best_key = (0.0, 0.0, 0.0)
    words, raw = _literal(clause.norm), set(clause.norm.split())
    for c in candidates:
        s = align(clause, c)
        if s < threshold:
            continue
        # Ties (paraphrases of equal content) go to the one that keeps more of the wording.
        key = (s, _jaccard(words, _literal(c.norm)), _jaccard(raw, set(c.norm.split())))
        if best is None or key > best_key:
            best, best_key = c, key
    return best


# Topic words a successor must keep to count as the same rule reworded: a rule about sexual
# content involving minors that now speaks of violent content involving minors is another rule.
CRITICAL = frozenset(
    {"minor", "sexual", "sysprompt", "pii", "selfharm", "wmd", "weapon", "hate", "harass",
     "nonconsensual", "lie", "fabricate", "suicid", "explosiv", "bioweapon", "chemical",
     "biological", "nuclear", "radiological"}
)  # fmt: skip


def critical_needles() -> list[tuple[str, bool, bool]] | None:
    """Texts one of which any normalized text whose content tokens meet CRITICAL holds, as
    needles (text, at a word start, at a word end): the phrases that name such a topic, and
    the stems that become one (a stem is a prefix of its word). None when a phrase offers
    no needle."""
    from promptaudit.needles import required_literals

    found: list[tuple[str, bool, bool]] = []
    for pattern, token in _PHRASES:
        if token in CRITICAL:
            literals = required_literals(pattern)
            if literals is None:  # pragma: no cover - every phrase above has literals
                return None
            found += literals
    stems = {s for s in CRITICAL if _BY_STEM.get(s, s) in CRITICAL}
    stems |= {s for s, canonical in _BY_STEM.items() if canonical in CRITICAL}
    return found + [(s, True, False) for s in sorted(stems)]


def keeps_topic(span_norm: str, after_norm: str) -> bool:
    """Does AFTER still say what the matched part of a rule (SPAN) was about?

    Every topic word must stay (through synonyms); of the other words at most one may go,
    and only from a span of three or more, so "medical advice" -> "legal advice" is not a
    rewording of the same rule.
    """
    span, after = content_tokens(span_norm), content_tokens(after_norm)
    missing = span - after
    if missing & CRITICAL:
        return False
    return not missing or (len(missing) == 1 and len(span) >= 3)
