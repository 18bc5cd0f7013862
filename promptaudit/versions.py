"""A prompt file's versions as the history walk carries them: read whole once, then edited.

Re-reading both versions of every changed file at every commit cannot keep up with `git log
-p`, so a version is read whole only once (the first time the walk meets its blob); after
that, git's zero-context hunks say which lines an edit changed, the paragraphs they touch are
read again (see regions.py), and every other clause is carried forward with its line shifted.
A version keeps only the clauses that can matter (on a guardrail's topic, tripping a forbidden
entry, reading like a safety rule, letting someone see what a rule protects); most clauses
are none of these. Versions are kept by blob id in a bounded cache, so memory stays flat as
history grows.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from promptaudit.audit import left_over
from promptaudit.clauses import (
    SENTENCE,
    Clause,
    parts_of_segments,
    prose_sentences,
    sentences_of_segments,
)
from promptaudit.errors import PromptError
from promptaudit.formats import MARKDOWN, TEXT, Segment, decode, extract, format_of
from promptaudit.regions import Hunk, apply_hunks, regions
from promptaudit.relevance import can_matter, turned_away
from promptaudit.text import normalize

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from promptaudit.git import Repository
    from promptaudit.gitlog import LogFile
    from promptaudit.policy import Policy

_CACHE_SIZE = 256
_RELEVANCE_CACHE = 20_000
_LONE_CR = re.compile(rb"\r(?!\n)")


class Item(NamedTuple):
    """A clause without its line: what stays the same while lines above it come and go."""

    text: str
    kind: str
    lead: str  # a list item's lead-in ("You must never:"), part of what it says
    norm: str


@dataclass
class Version:
    """One blob of a prompt file, parsed: its lines, and the clauses that can matter (on a
    guardrail's topic, tripping a forbidden entry, reading like a safety rule) as parallel
    lists. The others never take part in a finding, and most clauses are others."""

    lines: list[str]
    starts: list[int]  # 1-based line of each clause, ascending
    items: list[Item]
    simple: bool  # plain text or Markdown without comments or fences: can be re-read in part
    # The policy the clauses were read and judged with: its prompt keys decide what a
    # structured file's clauses are, and its rules which clauses are relevant.
    policy: Policy
    # Read leniently, as the side a commit starts from (it would not read strictly): never
    # what a commit brings in, and never edited in part.
    landed: bool = False
    chars: int = -1  # characters, line breaks included (-1: not counted yet)

    def size(self) -> int:
        if self.chars < 0:
            self.chars = sum(map(len, self.lines)) + len(self.lines) - 1
        return self.chars


@dataclass
class Versions:
    """The versions the walk has read, by blob id (bounded), and what it decided about each
    sentence it met (bounded): one git cat-file process serves the blobs."""

    repo: Repository
    versions: OrderedDict[str, Version] = field(default_factory=OrderedDict)
    relevance: dict[tuple[int, str, str, str], Item | bool] = field(default_factory=dict)

    def item(self, policy: Policy, path: str, text: str, kind: str, lead: str) -> Item | None:
        """The clause a sentence makes, when it can matter (can_matter), else None; decided
        once for what it says (bounded): the same sentences recur commit after commit, and
        most are read again only to be found unchanged."""
        hit = self.relevance.get((id(policy), text, kind, lead))
        if hit is None:
            return self._decide(policy, path, text, kind, lead)
        return hit if isinstance(hit, Item) else None

    def _decide(self, policy: Policy, path: str, text: str, kind: str, lead: str) -> Item | None:
        """item, the first time a sentence is met: remembered, as the Item or False."""
        if len(self.relevance) >= _RELEVANCE_CACHE:
            self.relevance.clear()
        norm = normalize(f"{lead} {text}" if lead else text)
        matters = (
            bool(norm)
            and not turned_away(policy, norm)
            and can_matter(policy, Clause(path, 0, text, kind, lead))
        )
        found = Item(text, kind, lead, norm) if matters else None
        self.relevance[(id(policy), text, kind, lead)] = found or False
        return found

    def items_of(
        self, policy: Policy, path: str, segments: Sequence[Segment]
    ) -> Iterator[tuple[int, Item]]:
        """(line, item) of the clauses of SEGMENTS that can matter, in order."""
        item = self.item
        for line, text, kind, lead in sentences_of_segments(segments):
            found = item(policy, path, text, kind, lead)
            if found is not None:
                yield line, found

    def version(self, blob: str, path: str, policy: Policy, *, landed: bool = False) -> Version:
        """BLOB of PATH as POLICY reads it; LANDED for the side a commit starts from, which
        is read as well as it can be, as review reads it (see formats.decode and extract)."""
        cached = self.versions.get(blob)
        if cached is not None and (landed or not cached.landed):
            self.versions.move_to_end(blob)
            if cached.policy is policy:
                return cached
            # A policy change since it was read: what is relevant (and, in a structured
            # file, what is a clause) may differ, so read it again as the judge reads it.
            text = "\n".join(cached.lines)
            in_lines, lenient = cached.simple, cached.landed
        else:
            data = self.repo.blobs.read(blob) or b""
            # A carriage return alone breaks a line for the reader but not for git's hunks.
            in_lines, lenient = _LONE_CR.search(data) is None, False
            try:
                text = decode(data, path, policy.max_prompt_bytes)
            except PromptError:
                if not landed:
                    raise
                text = decode(data, path, policy.max_prompt_bytes, landed=True)
                lenient = True
        version = self.parse_whole(path, text, policy, in_lines, landed=landed, lenient=lenient)
        return self.remember(blob, version)

    def remember(self, blob: str, version: Version) -> Version:
        self.versions[blob] = version
        if len(self.versions) > _CACHE_SIZE:
            self.versions.popitem(last=False)
        return version

    def parse_whole(
        self,
        path: str,
        text: str,
        policy: Policy,
        in_lines: bool,
        *,
        landed: bool = False,
        lenient: bool = False,
    ) -> Version:
        """The version of TEXT; LANDED: read leniently if it must be, and then (or if it was
        decoded so, LENIENT) marked so."""
        try:
            segments = extract(path, text, policy.prompt_keys)
        except PromptError:
            if not landed:
                raise
            segments, lenient = extract(path, text, policy.prompt_keys, landed=True), True
        kept = list(self.items_of(policy, path, segments))
        simple = in_lines and format_of(path) in (TEXT, MARKDOWN) and not _has_marker(text)
        return Version(
            lines=text.split("\n"),
            starts=[line for line, _ in kept],
            items=[item for _, item in kept],
            simple=simple and not lenient,
            policy=policy,
            landed=lenient,
        )


def clause_at(path: str, v: Version, i: int) -> Clause:
    item = v.items[i]
    return Clause(path, v.starts[i], item.text, item.kind, item.lead)


class Reread(NamedTuple):
    """One paragraph (or run of them) an edit made the walk read again."""

    old_lines: tuple[int, int]  # [start, end) of the old text's lines
    new_lines: tuple[int, int]  # and of the new text's
    old_items: tuple[int, int]  # its clauses that can matter, as a slice of the old items
    new_items: tuple[int, int]  # and of the new items


class Edit(NamedTuple):
    """The new version, which clauses that can matter left the old one and arrived (by
    index, equal texts cancelled), and the paragraphs read again."""

    new: Version
    departed: list[int]
    arrived: list[int]
    reread: list[Reread]


def update(
    reader: Versions, path: str, old: Version, f: LogFile, policy: Policy, size: int
) -> Edit:
    """Read an edit: each paragraph a hunk touches is read again; every other clause is
    carried forward with its line shifted by what the hunks above it added or removed. OLD
    is simple, and so is what the hunks add; SIZE is what size_in_part gave.
    """
    new_lines = apply_hunks(old.lines, f.hunks)
    starts: list[int] = []
    items: list[Item] = []
    gone: list[int] = []
    fresh: list[int] = []
    reread: list[Reread] = []
    shift = 0
    cursor = 0
    for start, end, delta, plain in regions(old.lines, f.hunks):
        lo = bisect.bisect_left(old.starts, start + 1)
        hi = bisect.bisect_right(old.starts, end)
        starts += [x + shift for x in old.starts[cursor:lo]]
        items += old.items[cursor:lo]
        text = "\n".join(new_lines[start + shift : end + shift + delta])
        first = len(items)
        prose = prose_sentences(text, start + shift + 1, known=plain)
        if prose is not None:
            # reader.item, its common case (a sentence met before) inlined: most are.
            seen, pid = reader.relevance.get, id(policy)
            for line, sentence in prose:
                item = seen((pid, sentence, SENTENCE, ""))
                if item is None:
                    item = reader.item(policy, path, sentence, SENTENCE, "")
                if isinstance(item, Item):
                    starts.append(line)
                    items.append(item)
        else:
            for line, item in reader.items_of(policy, path, [Segment(text, start + shift + 1)]):
                starts.append(line)
                items.append(item)
        gone += range(lo, hi)
        fresh += range(first, len(items))
        new_span = (start + shift, end + shift + delta)
        reread.append(Reread((start, end), new_span, (lo, hi), (first, len(items))))
        cursor = hi
        shift += delta
    starts += [x + shift for x in old.starts[cursor:]]
    items += old.items[cursor:]
    new = Version(new_lines, starts, items, simple=True, policy=policy)
    new.chars = size
    return Edit(new, *_cancel(old, gone, new, fresh), reread)


def _cancel(
    old: Version, gone: Sequence[int], new: Version, came: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Which clauses really left OLD and really arrived in NEW: one re-read unchanged cancels.

    The same as audit.unmatched both ways, on remembered norms, by index: clause objects are
    built only for what really changed, and only when it can matter.
    """
    arrived = left_over((old.items[i].norm for i in gone), came, lambda j: new.items[j].norm)
    departed = left_over((new.items[j].norm for j in came), gone, lambda i: old.items[i].norm)
    return departed, arrived


def context(path: str, v: Version) -> list[Clause]:
    """The file's clauses that can matter: all it keeps."""
    return [clause_at(path, v, i) for i in range(len(v.items))]


def whole_side(
    path: str, v: Version, reread: list[tuple[tuple[int, int], tuple[int, int]]]
) -> list[Clause]:
    """V's clauses that can matter, with every clause of the re-read paragraphs (given as
    the slice of V's items they hold and their lines), in order."""
    out: list[Clause] = []
    cursor = 0
    for (lo, hi), (start, end) in reread:
        out += [clause_at(path, v, i) for i in range(cursor, lo)]
        segment = Segment("\n".join(v.lines[start:end]), start + 1)
        out += [Clause(path, *p[:4]) for p in parts_of_segments([segment])]
        cursor = hi
    out += [clause_at(path, v, i) for i in range(cursor, len(v.items))]
    return out


def size_in_part(old: Version, f: LogFile, max_bytes: int) -> int | None:
    """The characters of the new version when this edit can be read paragraph by paragraph
    (plain text or Markdown, before and after, with no comment, fence or lone carriage
    return, and a new version that reads as review reads it: see _reads_strictly); else
    None."""
    if not old.simple:
        return None
    added = "\n".join([ln for _, _, lines in f.hunks for ln in lines])
    if "\r" in added or _has_marker(added) or not _reads_strictly(f, added):
        return None
    # Each added line brings its characters and a line break: the joined text has one less.
    size = _size_after(old, f.hunks, len(added) + 1 if any(h[2] for h in f.hunks) else 0)
    # At most four bytes a character (a CRLF line break is two bytes for one).
    return size if 4 * size < max_bytes else None


def _reads_strictly(f: LogFile, added: str) -> bool:
    """Would the new blob pass formats.decode as review reads it? git gave its lines as they
    are (bytes that are not UTF-8 kept as surrogates); the rest is the old version's, which
    did. Doubt, near max_prompt_bytes or at the first line, goes to the whole-file read."""
    if not added.isascii():
        try:
            added.encode("utf-8")
        except UnicodeEncodeError:
            return False
    start, _, lines = f.hunks[0]
    return not (start <= 1 and lines and lines[0].startswith(("\ufeff", _LFS_POINTER)))


def _size_after(old: Version, hunks: Sequence[Hunk], added: int) -> int:
    """The characters, line breaks included, of OLD with -U0 HUNKS applied, which ADDED
    characters (line breaks included) to."""
    size = old.size() + added
    for start, count, _ in hunks:
        if count:
            size -= sum(map(len, old.lines[start - 1 : start - 1 + count])) + count
    return max(size, 0)  # every line deleted: no line break is left to take away


_LFS_POINTER = "version https://git-lfs.github.com/spec/v1"


def _has_marker(text: str) -> bool:
    """Does TEXT hold an HTML comment's mark or a fence ("<!--", "-->", "```", "~~~")? A
    character is looked for first: most text holds none of them, and a one-character
    search is the fastest there is."""
    return (
        ("<" in text and "<!--" in text)
        or (">" in text and "-->" in text)
        or ("`" in text and "```" in text)
        or ("~" in text and "~~~" in text)
    )
