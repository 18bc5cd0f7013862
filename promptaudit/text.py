"""Normalization: the text every phrase, pattern and clause comparison sees.

A guardrail must not disappear from view because someone re-wrapped it, changed its case or
emphasis, and a forbidden instruction must not slip through because it was spelled with
Cyrillic look-alikes, full-width letters, zero-width characters or letter spacing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that render like ASCII ones, after case-folding (uppercase forms fold onto these,
# except where the fold leaves another look-alike: those are in _UPPER_CONFUSABLES).
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ү": "y", "ɡ": "g", "ɑ": "a", "ɩ": "i",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    # Latin look-alikes that NFKC leaves alone
    "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
    # Small capitals
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s",
    "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
# Greek capitals whose lowercase looks like another letter: Η is an H, but η reads as n.
_UPPER_CONFUSABLES = {"Η": "H", "Μ": "M", "Ν": "N", "Υ": "Y"}
_UPPER_CONFUSABLE_TABLE = str.maketrans(_UPPER_CONFUSABLES)

_APOSTROPHE_CHARS = "'’‘ʼ`´"
# A possessive names the word itself ("children's" is about children).
_POSSESSIVE = re.compile(r"(?<=\w)['’ʼ]s\b")
_EMPHASIS = re.compile(r"[*~]")
# Apostrophes and emphasis marks vanish ("don't" -> "dont", then "do not"; "**not**" -> "not").
_DROPPED = str.maketrans("", "", _APOSTROPHE_CHARS + "*~")
_NON_WORD = re.compile(r"[\W_]+")
# Every ASCII character _NON_WORD matches, as a space (a bytes.translate table).
_ASCII_NON_WORD = bytes(c if chr(c).isalnum() else 32 for c in range(128)) + bytes(128)
# Letters spaced out one space apart ("i g n o r e"); a wider gap separates two such words.
_SPACED_LETTERS = re.compile(r"(?<![^\W_])[^\W_](?: [^\W_]){2,}(?![^\W_])")
# What any spaced-out run ends with: a cheap test (it starts with a space, which the regex
# engine scans for quickly) that spares most clauses the search above.
_SPACED_TAIL = re.compile(r" [^\W_] [^\W_](?![^\W_])")
# Negative contractions, once their apostrophe is gone (or never written: "dont"), as the two
# words they stand for, so that "Don't" and "Do not" read alike and an edit between them is no
# change. "can't" is "cannot", its usual spelling in full.
_CONTRACTIONS = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not",
    "arent": "are not", "wasnt": "was not", "werent": "were not", "wont": "will not",
    "wouldnt": "would not", "cant": "cannot", "couldnt": "could not", "shouldnt": "should not",
    "mustnt": "must not", "shant": "shall not", "hasnt": "has not", "havent": "have not",
    "hadnt": "had not", "neednt": "need not", "mightnt": "might not",
}  # fmt: skip
# Inline HTML tags that wrap words (<b>politically</b>): they render as nothing.
_INLINE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def _fold(text: str) -> str:
    if text.isascii():
        # No accents, format characters or look-alikes to undo: the common case, kept fast.
        return text.lower()
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    # NFKC turns an acute-accent apostrophe (don´t) into a space and a combining accent.
    text = unicodedata.normalize("NFKC", text.replace("´", "'"))
    text = text.translate(_UPPER_CONFUSABLE_TABLE).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Cf"))
    return text.translate(_CONFUSABLE_TABLE)


def _join_spaced(match: re.Match[str]) -> str:
    return match.group(0).replace(" ", "")


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lowercase words separated by single spaces, with all disguises removed.

    `Do **NOT** reveal the sys­tem prompt!` and `Don't reveal the system prompt` normalize
    to the same string; apostrophes vanish and negative contractions are spelled out, so that
    "don't" and "dont" become "do not" (and "can't" becomes "cannot").
    """
    return _normalize_ascii(text) if text.isascii() else _normalize_text(text)


def _normalize_text(text: str) -> str:
    """normalize for any text."""
    text = _fold(text)
    if any(ch in text for ch in _APOSTROPHE_CHARS):
        text = _POSSESSIVE.sub("", text)
    text = text.translate(_DROPPED)
    if "<" in text:
        text = _INLINE_TAG.sub("", text)
    if _SPACED_TAIL.search(text):
        # First with the spacing as written, so that two letter-spaced words stay two words,
        # then again for letters split by dots, hyphens or wider gaps (i.g.n.o.r.e).
        text = _SPACED_LETTERS.sub(_join_spaced, text)
    if text.isascii():
        # The same as the substitution below, for the common case, at a fraction of its cost.
        text = b" ".join(text.encode("ascii").translate(_ASCII_NON_WORD).split()).decode("ascii")
    else:
        text = _NON_WORD.sub(" ", text).strip()
    if _SPACED_TAIL.search(text):
        text = _SPACED_LETTERS.sub(_join_spaced, text)
    if "nt" in text:
        # The words are single-space separated by now: a set lookup per word is exact, and
        # far cheaper than a search for nineteen alternatives along a long text.
        words = text.split(" ")
        if not _CONTRACTIONS.keys().isdisjoint(words):
            text = " ".join(_CONTRACTIONS.get(w, w) for w in words)
    return text


# The ASCII forms of the above, for bytes: on ASCII text, the patterns match alike (they
# name no \s, whose str form also takes a few control characters).
_ASCII_DROPPED = b"'`*~"
_SPACED_LETTERS_B = re.compile(_SPACED_LETTERS.pattern.encode())
_SPACED_TAIL_B = re.compile(_SPACED_TAIL.pattern.encode())
_CONTRACTIONS_B = {k.encode(): v.encode() for k, v in _CONTRACTIONS.items()}


def _normalize_ascii(text: str) -> str:
    """normalize for ASCII text, the common case, with bytes methods where it can: the
    same steps, in the same order, at a fraction of the cost."""
    text = text.lower()
    if "'" in text:
        text = _POSSESSIVE.sub("", text)
    data = text.encode("ascii").translate(None, _ASCII_DROPPED)
    if b"<" in data:
        data = _INLINE_TAG.sub("", data.decode("ascii")).encode("ascii")
    if _SPACED_TAIL_B.search(data):
        data = _SPACED_LETTERS_B.sub(_join_spaced_b, data)
    words = data.translate(_ASCII_NON_WORD).split()
    data = b" ".join(words)
    if _SPACED_TAIL_B.search(data):
        data = _SPACED_LETTERS_B.sub(_join_spaced_b, data)
        words = data.split()
    if not _CONTRACTIONS_B.keys().isdisjoint(words):
        data = b" ".join(_CONTRACTIONS_B.get(w, w) for w in words)
    return data.decode("ascii")


def _join_spaced_b(match: re.Match[bytes]) -> bytes:
    return match.group(0).replace(b" ", b"")


# A contracted word in a policy's own pattern, written for text that kept it ("dont share"):
# a word on its own, or right after a `\b`.
_CONTRACTION_IN_PATTERN = re.compile(
    r"(?:(?<=\\b)|(?<![A-Za-z\\]))(" + "|".join(_CONTRACTIONS) + r")(?![A-Za-z])",
    re.IGNORECASE,
)


def spelled_out(pattern: str) -> str:
    """A policy pattern with its contracted words spelled out, as normalize spells them in
    the text it is matched against: `dont share` keeps matching "Don't share"."""
    return _CONTRACTION_IN_PATTERN.sub(lambda m: _CONTRACTIONS[m.group(1).lower()], pattern)


@lru_cache(maxsize=65536)
def light(text: str) -> str:
    """Folded and de-disguised, but with punctuation kept: what policy `patterns` also see."""
    text = _fold(text)
    return re.sub(r"\s+", " ", _EMPHASIS.sub("", text)).strip()


def contains_phrase(haystack_norm: str, phrase_norm: str) -> bool:
    """Whole-word containment on normalized text."""
    if not phrase_norm:
        return False
    return f" {phrase_norm} " in f" {haystack_norm} "


def tokens(text_norm: str) -> list[str]:
    return text_norm.split()
