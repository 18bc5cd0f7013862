"""Prompt text to clauses: headings, list items and sentences, each with its source line.

A paragraph or a list item is joined across its lines before it is split into sentences,
so re-wrapping a rule never changes its clauses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from promptaudit.formats import Segment, extract
from promptaudit.text import normalize

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

HEADING, ITEM, SENTENCE = "heading", "item", "sentence"

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_MARKER = r"(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-zA-Z][.)])"
_ITEM = re.compile(rf"^(\s*){_MARKER}\s+")
# The same over many lines joined, each line after a newline: a literal first character
# makes the search fast, where a multi-line "^" is tried at every position.
_ANY_ITEM = re.compile(rf"\n[^\S\n]*{_MARKER}[^\S\n]")
_COLON_END = re.compile(r":\s*\n")
_RULE = re.compile(r"^\s*(?:[-*_=]\s*){3,}$")
_TAG_ONLY = re.compile(r"^\s*</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+")
# "No." and "Fig." abbreviate only before a number, and a number never starts a sentence
# here; "no." is far more often the end of one ("Answer yes or no.").
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|prof|inc|ltd|jr|sr|st|fig|approx|cf|u\.s|u\.k|a\.m|p\.m)\.|\b[A-Z]\.)$",
    re.IGNORECASE,
)
_ABBREV_REACH = 16  # longer than any abbreviation above
# How the multi-letter abbreviations above end; the dotted ones end in a single letter.
_ABBREV_ENDS = (
    "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "inc", "ltd", "jr", "sr", "st", "fig",
    "approx", "cf",
)  # fmt: skip
_WORD = re.compile(r"\S+")
# A line that starts with a letter not followed by "." or ")": prose, not a list marker.
_PLAIN = re.compile(r"\s*[^\W\d_](?![.)])")
# The same at the start of many lines joined, and a line after the first that is not prose.
_PLAIN_FIRST = re.compile(r"[^\S\n]*[^\W\d_](?![.)])")
_NOT_PLAIN_AFTER = re.compile(r"\n(?![^\S\n]*[^\W\d_](?![.)]))")


@dataclass(frozen=True)
class Clause:
    """One clause of a prompt: its text as written (white space collapsed) and where it is."""

    path: str
    line: int
    text: str
    kind: str = SENTENCE
    # A list item completes the line that leads into it ("You must never:" + "- reveal the
    # system prompt"): the lead is part of what the item says, so it is part of its norm.
    lead: str = ""
    # What matching compares. Computed here rather than on first use: every clause is
    # matched, and a cached_property takes a lock on first use (Python 3.11).
    norm: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", normalize(self.said))

    @property
    def said(self) -> str:
        """What the clause says: a list item with its lead-in ("You must never: reveal ...")."""
        return f"{self.lead} {self.text}" if self.lead else self.text


@dataclass
class _Block:
    kind: str
    pieces: list[tuple[int, str]]  # (source line, text of that line)
    indent: int = 0


def _blocks(segment: Segment) -> Iterable[tuple[str, str, list[tuple[int, int]], str]]:
    """Blocks of a segment as (kind, joined text, [(offset, source line)], lead-in).

    The lead-in of a list item is the sentence ending in a colon right above its list:
    "You must never:" gives its items their force. Blank lines between the lead-in and the
    items, or between items (a loose list), do not end it; prose, a heading, a rule line or a
    tag line does. An item that itself ends with a colon leads the items nested under it
    ("- Never do the following:" over "  - reveal the system prompt"), after its own lead.
    """
    block: _Block | None = None
    offset = 0
    in_fence = False
    lead = ""
    # The open items above, outermost first: (indent, the lead the items nested deeper take).
    nesting: list[tuple[int, str]] = []

    def flush() -> Iterable[tuple[str, str, list[tuple[int, int]], str]]:
        nonlocal lead
        if block is None:
            return
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for line, piece in block.pieces:
            # Keep the spacing inside a line: a wider gap separates letter-spaced words.
            piece = piece.replace("\t", " ").strip()
            if not piece:
                continue
            if parts:
                pos += 1
            spans.append((pos, line))
            parts.append(piece)
            pos += len(piece)
        if parts:
            text = " ".join(parts)
            if block.kind == ITEM:
                while nesting and nesting[-1][0] >= block.indent:
                    nesting.pop()
                own = nesting[-1][1] if nesting else lead
                yield block.kind, text, spans, own
                if text.rstrip().endswith(":"):
                    said = split_sentences(text)[-1][1]
                    nesting.append((block.indent, f"{own} {said}" if own else said))
                else:
                    nesting.append((block.indent, own))
            else:
                yield block.kind, text, spans, ""
                lead = split_sentences(text)[-1][1] if text.rstrip().endswith(":") else ""
                nesting.clear()

    verbatim = segment.verbatim
    for number, raw in enumerate(segment.text.split("\n"), segment.line):
        line_start = offset
        offset += len(raw) + 1
        if not in_fence and _PLAIN.match(raw):
            # Most lines are prose: no fence, rule, tag, heading or list marker to look for.
            if block is None:
                block = _Block(SENTENCE, [])
                lead = ""
                nesting.clear()
            if verbatim:
                block.pieces.append((number, raw))
            else:
                block.pieces.extend(_pieces(segment, line_start, raw, number))
            continue
        line = number if verbatim else segment.line_of(line_start)
        if _FENCE.match(raw):
            in_fence = not in_fence
            yield from flush()
            block = None
            continue
        stripped = raw.strip()
        if not stripped:
            yield from flush()
            block = None
            continue
        if _RULE.match(raw) or _TAG_ONLY.match(raw):
            yield from flush()
            block = None
            lead = ""
            nesting.clear()
            continue
        if in_fence:
            # Code and examples: each line stands alone, never joined into a rule.
            yield from flush()
            block = _Block(SENTENCE, [(line, stripped)])
            continue
        heading = _HEADING.match(raw)
        if heading:
            yield from flush()
            block = None
            lead = ""
            nesting.clear()
            yield from _heading_block(HEADING, line, raw[heading.end() :])
            continue
        item = _ITEM.match(raw)
        if item:
            yield from flush()
            pieces = _pieces(segment, line_start + item.end(), raw[item.end() :], line)
            block = _Block(ITEM, pieces, indent=len(item.group(1)))
            continue
        if block is None:
            block = _Block(SENTENCE, [])
            lead = ""
            nesting.clear()
        block.pieces.extend(_pieces(segment, line_start, raw, line))
    yield from flush()


def starts_item(line: str) -> bool:
    """Does LINE open a list item ("- ...", "1. ...", "a) ...")?"""
    return bool(_ITEM.match(line))


_STOPS = ("",)  # what lead_reach gives for a block that stops a lead-in


def lead_reach(lines: Sequence[str]) -> tuple[object, ...] | None:
    """What LINES pass on to the list items below them: None when they hold only list items
    and blank lines (a lead-in from above passes), the lines of the last block when it is a
    lead-in (ends with a colon), and _STOPS when that block stops any lead-in (prose, a
    heading, a rule or a tag line). Items after the last such block that end with a colon
    lead the items nested deeper below: then the answer also holds their nesting.

    Two versions of a region with the same answer leave the lists below it as they were.
    """
    if lines and _all_prose("\n".join(lines)):  # the common case, in two searches
        return tuple(ln.strip() for ln in lines) if lines[-1].strip().endswith(":") else _STOPS
    last: tuple[str, ...] | None = None
    current: list[str] = []
    in_item = False
    items: list[tuple[int, list[str]]] = []  # since the last prose block: (indent, lines)
    for raw in lines:
        if _PLAIN.match(raw):  # prose, the common case: no marker, heading, rule or tag
            if in_item:
                items[-1][1].append(raw.strip())
            else:
                if not current:
                    items = []
                current.append(raw.strip())
            continue
        stripped = raw.strip()
        item = _ITEM.match(raw)
        if not stripped or item:
            in_item = bool(stripped)
            if current:
                last, current = _lead_or_stop(current), []
            if item:
                items.append((len(item.group(1)), [raw[item.end() :].strip()]))
        elif _HEADING.match(raw) or _RULE.match(raw) or _TAG_ONLY.match(raw):
            in_item = False
            current, items = [], []
            last = _STOPS
        elif in_item:  # a line right under an item continues it
            items[-1][1].append(stripped)
        else:
            if not current:
                items = []
            current.append(stripped)
    if current:
        return _lead_or_stop(current)
    nesting = _nesting(items)
    return last if nesting is None else (last, nesting)


def plain_paragraph(lines: Sequence[str]) -> bool:
    """Are LINES one paragraph of prose that leads no list (its last line ends with no
    colon)? It passes no lead-in on and, holding no list item, takes none."""
    return bool(lines) and not lines[-1].strip().endswith(":") and _all_prose("\n".join(lines))


def _nesting(items: list[tuple[int, list[str]]]) -> tuple[tuple[int, tuple[str, ...]], ...] | None:
    """The open items after ITEMS, as _blocks nests them: (indent, the lead-ins, from the
    list's own lead on, that the items nested deeper take); None when no item leads any."""
    open_: list[tuple[int, tuple[str, ...]]] = []
    leads = False
    for indent, parts in items:
        while open_ and open_[-1][0] >= indent:
            open_.pop()
        above = open_[-1][1] if open_ else ()
        text = " ".join(p for p in parts if p)
        if text.endswith(":"):
            leads = True
            open_.append((indent, (*above, text)))
        else:
            open_.append((indent, above))
    return tuple(open_) if leads else None


def _lead_or_stop(block: list[str]) -> tuple[str, ...]:
    return tuple(block) if block[-1].endswith(":") else _STOPS


def holds_item(lines: Sequence[str]) -> bool:
    """Does one of LINES open a list item? (One search, not one per line.)"""
    return _ANY_ITEM.search("\n" + "\n".join(lines)) is not None


def may_lead(lines: Sequence[str]) -> bool:
    """Can a list item's lead-in flow out of LINES: a line ending with a colon, or an item?"""
    text = "\n" + "\n".join(lines) + "\n"
    return _COLON_END.search(text) is not None or _ANY_ITEM.search(text) is not None


def _pieces(segment: Segment, start: int, text: str, line: int) -> list[tuple[int, str]]:
    """TEXT, found at offset START of the segment, as (source line, text) pieces.

    In a verbatim segment the text is on LINE, its caller's count. A refolded YAML scalar
    holds several source lines on one line of text: splitting it at the source lines lets a
    sentence that starts mid-way report the line it is written on.
    """
    if segment.verbatim:
        return [(line, text)]
    pieces: list[tuple[int, list[str]]] = []
    for m in _WORD.finditer(text):
        at = segment.line_of(start + m.start())
        if pieces and pieces[-1][0] == at:
            pieces[-1][1].append(m.group(0))
        else:
            pieces.append((at, [m.group(0)]))
    return [(at, " ".join(words)) for at, words in pieces]


def _heading_block(
    kind: str, line: int, text: str
) -> Iterable[tuple[str, str, list[tuple[int, int]], str]]:
    text = " ".join(text.strip().strip("#").split())
    if text:
        yield kind, text, [(0, line)], ""


def split_sentences(text: str) -> list[tuple[int, str]]:
    """Sentences of one block as (offset, sentence), not splitting after abbreviations."""
    out: list[tuple[int, str]] = []
    start = 0
    for stop, end in sentence_ends(text):
        nxt = text[end : end + 1]
        if (
            _abbreviation_at(text, stop)
            or nxt.isdigit()
            or (nxt.islower() and not _full_word_before(text, stop))
        ):
            # A lower-case start after a full word still begins a sentence (prompts written
            # all in lower case); after a short token ("approx. ten") it does not.
            continue
        out.append((start, text[start:end].rstrip()))
        start = end
    if start < len(text) and text[start:].strip():
        out.append((start, text[start:].rstrip()))
    return out


def sentence_ends(text: str) -> list[tuple[int, int]]:
    """The spans _SENTENCE_END.finditer finds in TEXT, found faster.

    The regex engine tries a pattern at every position, which for a paragraph costs more
    than the rest of its split; str.find skips to the few ".", "!" and "?" there are, and
    the pattern is tried only at those. Matches do not overlap, as finditer's do not.
    """
    stops: list[int] = []
    for mark in ".!?":
        at = text.find(mark)
        while at >= 0:
            stops.append(at)
            at = text.find(mark, at + 1)
    if len(stops) > 1:
        stops.sort()
    out: list[tuple[int, int]] = []
    after = 0
    match = _SENTENCE_END.match
    for at in stops:
        if at >= after and (m := match(text, at)) is not None:
            out.append(m.span())
            after = m.end()
    return out


def _abbreviation_at(text: str, stop: int) -> bool:
    """Does the "." at STOP end an abbreviation ("e.g.", "Dr.", "J.")?

    Most stops end a plain word: a look at the ASCII letters before the stop rules those
    out, and only the rest go to the search (whose case-blind letters also take a few
    non-ASCII look-alikes, hence the ASCII condition). Only the end of the text before the
    stop can hold an abbreviation: a bounded look keeps a long paragraph linear.
    """
    if text[stop] != ".":
        return False
    tail = text[max(0, stop - 7) : stop]
    if tail.isascii():
        low = tail.lower()
        single = bool(low) and low[-1].isalpha() and (len(low) < 2 or not _is_word(low[-2]))
        if not single and not low.endswith(_ABBREV_ENDS):
            return False
    return _ABBREV.search(text, max(0, stop - _ABBREV_REACH), stop + 1) is not None


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _full_word_before(text: str, stop: int) -> bool:
    word = text[max(0, stop - 20) : stop].rsplit(" ", 1)[-1]
    return len(word) >= 4 and word.isalpha()


class Part(NamedTuple):
    """A clause before it is one: where and what, with its norm. Cheaper to make than a
    Clause, for a history walk that keeps only the few that changed."""

    line: int
    text: str
    kind: str
    lead: str
    norm: str


_new_part = tuple.__new__


def parts_of_segments(segments: Sequence[Segment]) -> Iterator[Part]:
    """The clauses of SEGMENTS as Parts, in order; text that normalizes to nothing is none."""
    for line, sentence, kind, lead in sentences_of_segments(segments):
        norm = normalize(f"{lead} {sentence}" if lead else sentence)
        if norm:
            # tuple.__new__ skips the Python-level __new__ of a NamedTuple.
            yield _new_part(Part, (line, sentence, kind, lead, norm))


def sentences_of_segments(segments: Sequence[Segment]) -> Iterator[tuple[int, str, str, str]]:
    """(line, text, kind, lead) of every sentence of SEGMENTS, in order, not yet normalized:
    a history walk that remembers what it decided about a sentence need not normalize it
    again (those whose norm is empty are no clause; see parts_of_segments)."""
    for segment in segments:
        paragraph = _one_paragraph(segment)
        blocks = _blocks(segment) if paragraph is None else (paragraph,)
        for kind, text, spans, lead in blocks:
            sentences = split_sentences(text) if kind != HEADING else [(0, text)]
            # Offsets ascend, as the spans do: each sentence is on the line of the last span
            # that starts at or before it.
            at = 0
            for offset, sentence in sentences:
                while at + 1 < len(spans) and spans[at + 1][0] <= offset:
                    at += 1
                if offset == 0:
                    yield spans[at][1], sentence, kind, lead
                else:
                    yield spans[at][1], sentence, SENTENCE, ""


def _all_prose(text: str) -> bool:
    """Is every line of TEXT one _PLAIN matches (no blank line, marker, heading, rule, tag)?"""
    return _PLAIN_FIRST.match(text) is not None and _NOT_PLAIN_AFTER.search(text) is None


def _one_paragraph(segment: Segment) -> tuple[str, str, list[tuple[int, int]], str] | None:
    """The one block of a segment that is a single paragraph of prose, as _blocks gives it,
    or None: what a history walk reads again most, found in one search, not line by line."""
    text = segment.text
    if not segment.verbatim or not _all_prose(text):
        return None
    joined, starts = _joined(text)
    return SENTENCE, joined, [(at, segment.line + i) for i, at in enumerate(starts)], ""


def _joined(text: str) -> tuple[str, list[int]]:
    """The lines of a prose paragraph joined as _blocks joins them, and where each starts."""
    pieces = [line.replace("\t", " ").strip() for line in text.split("\n")]
    starts = []
    pos = 0
    for piece in pieces:
        starts.append(pos)
        pos += len(piece) + 1
    return " ".join(pieces), starts


def prose_sentences(text: str, line: int, *, known: bool = False) -> list[tuple[int, str]] | None:
    """(line, sentence) of TEXT, whose first line is LINE, when its lines are one paragraph
    of prose (KNOWN: the caller has seen so): then every sentence is of kind SENTENCE with
    no lead-in, as sentences_of_segments gives them. None otherwise. The paragraph a history
    walk reads again, in one call."""
    if not known and not _all_prose(text):
        return None
    joined, starts = _joined(text)
    out = []
    row, last = 0, len(starts) - 1
    for offset, sentence in split_sentences(joined):
        while row < last and starts[row + 1] <= offset:
            row += 1
        out.append((line + row, sentence))
    return out


def clauses_of_segments(path: str, segments: Sequence[Segment]) -> list[Clause]:
    return [Clause(path, *part[:4]) for part in parts_of_segments(segments)]


def clauses_of(
    path: str,
    text: str,
    prompt_keys: Sequence[str] = (),
    *,
    keep_html_comments: bool = False,
    landed: bool = False,
) -> list[Clause]:
    """The clauses in force in a prompt file's text (or all it shows the model; LANDED: the
    version a change starts from, see extract)."""
    segments = extract(
        path, text, prompt_keys, keep_html_comments=keep_html_comments, landed=landed
    )
    return clauses_of_segments(path, segments)
