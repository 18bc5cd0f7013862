"""Which lines a commit's zero-context hunks make the history walk read again.

git says which lines changed; a clause, though, is a sentence of a paragraph, and a list
item takes its force from a lead-in that can stand paragraphs above it ("You must never:"
over a loose list). These functions widen each hunk to the paragraphs that must be read
again with it, in the old text's line numbers, so that everything else can be carried
forward as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from promptaudit.clauses import holds_item, lead_reach, may_lead, plain_paragraph, starts_item

if TYPE_CHECKING:
    from collections.abc import Sequence

Hunk = tuple[int, int, list[str]]  # old start (1-based), old line count, the lines added


def apply_hunks(lines: list[str], hunks: Sequence[Hunk]) -> list[str]:
    """The new text's lines: -U0 hunks applied in order to the old text's lines."""
    new = list(lines)
    delta = 0
    for old_start, old_count, added in hunks:
        at = old_start if old_count == 0 else old_start - 1  # 0-based, in the old text
        new[at + delta : at + delta + old_count] = added
        delta += len(added) - old_count
    return new


def _paragraph(
    lines: list[str],
    first: int,
    last: int,
    added: list[str],
    touched: Sequence[tuple[int, int]] = (),
) -> tuple[int, int, bool]:
    """Widen [first, last), which ADDED lines replace, to what must be read again with it.

    Clauses never span blank-line-separated paragraphs, but a list item's lead-in does: it
    reaches the items of a loose list past blank lines, until prose, a heading, a rule or a
    tag line stops it. When the edit changes what the region passes on (a new colon, a
    deleted prose line), the lists right below are added; and when the region then holds a
    list item, the paragraphs above while a lead-in can flow from them (they end with a colon
    or hold list items), past a lead-in that some hunk of the commit (TOUCHED: old-line spans)
    changes or deletes. Lines outside the hunks are the same before and after the edit.
    The flag says the region is one plain paragraph before and after (Region.plain).
    """
    start = min(first, len(lines))
    while start > 0 and lines[start - 1].strip():
        start -= 1
    end = max(last, start)
    while end < len(lines) and lines[end].strip():
        end += 1
    new_region = [*lines[start:first], *added, *lines[last:end]]
    if plain_paragraph(lines[start:end]) and plain_paragraph(new_region):
        return start, end, True  # the common case: nothing around it is read with it
    while lead_reach(lines[start:end]) != lead_reach(new_region):
        below = _after(lines, end)
        if below is None or not starts_item(lines[below[0]]):
            break
        new_region += lines[end : below[1]]  # both sides grow by the same unchanged lines
        end = below[1]
    # Only a region that holds a list item (before or after the edit) can take a lead-in.
    takes = holds_item([*lines[start:end], *added])
    while takes:
        above = _before(lines, start)
        if above is None or not may_lead(lines[above[0] : above[1]]):
            break
        start = above[0]
        changed = any(a < above[1] and above[0] < max(b, a + 1) for a, b in touched)
        if not starts_item(lines[start]) and not changed:
            break  # the lead-in starts here: nothing above reaches past it
    return start, end, False


def _before(lines: list[str], start: int) -> tuple[int, int] | None:
    """The paragraph above line START, past blank lines: [top, bottom), or None."""
    bottom = start
    while bottom > 0 and not lines[bottom - 1].strip():
        bottom -= 1
    if bottom == 0:
        return None
    top = bottom
    while top > 0 and lines[top - 1].strip():
        top -= 1
    return top, bottom


def _after(lines: list[str], end: int) -> tuple[int, int] | None:
    """The paragraph below line END, past blank lines: [top, bottom), or None."""
    top = end
    while top < len(lines) and not lines[top].strip():
        top += 1
    if top == len(lines):
        return None
    bottom = top
    while bottom < len(lines) and lines[bottom].strip():
        bottom += 1
    return top, bottom


class Region(NamedTuple):
    """Old-text lines [start, end) read again, DELTA lines longer after the edit; PLAIN when
    it is one paragraph of prose leading no list, before and after (see plain_paragraph)."""

    start: int
    end: int
    delta: int
    plain: bool


def regions(lines: list[str], hunks: Sequence[Hunk]) -> list[Region]:
    """Old-text regions the hunks touch, merged where they meet."""
    touched = [
        (at, at + count) for start, count, _ in hunks for at in [start if count == 0 else start - 1]
    ]
    spans = []
    for (at, stop), (_, old_count, added) in zip(touched, hunks, strict=True):
        start, end, plain = _paragraph(lines, at, stop, added, touched)
        spans.append(Region(start, end, len(added) - old_count, plain))
    regions: list[Region] = []
    for span in sorted(spans):
        last = regions[-1] if regions else None
        # Regions apart only by blank lines are read together: a lead-in one of them gains
        # or loses reaches into the other.
        if last is not None and not any(ln.strip() for ln in lines[last.end : span.start]):
            # Two hunks in one plain paragraph leave it plain: -U0 hunks are apart by an
            # unchanged line, so each line of the edited paragraph, and its last line, is
            # one that some hunk's own reading saw.
            plain = last.plain and span.plain and (last.start, last.end) == span[:2]
            end = max(last.end, span.end)
            regions[-1] = Region(last.start, end, last.delta + span.delta, plain)
        else:
            regions.append(span)
    return regions
