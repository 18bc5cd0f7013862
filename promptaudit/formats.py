"""Prompt files to the text that is in force, with a way back to each source line.

What the model never sees cannot be a guardrail: HTML comments, Jinja comments, Jinja tags
and blocks that never render, YAML comments and YAML/JSON values outside the prompt keys are
left out, so a clause moved into one of them counts as removed.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from promptaudit.errors import PromptError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

TEXT, MARKDOWN, JINJA, YAML, JSON = "text", "markdown", "jinja", "yaml", "json"
_JINJA_EXT = (".j2", ".jinja", ".jinja2", ".jinja-md")
_LFS = b"version https://git-lfs.github.com/spec/v1"
PROMPT_ROLES = ("system", "developer")


def format_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(_JINJA_EXT) or ".j2." in name or ".jinja." in name:
        return JINJA
    if name.endswith((".yaml", ".yml")):
        return YAML
    if name.endswith(".json"):
        return JSON
    if name.endswith((".md", ".markdown", ".mdx")):
        return MARKDOWN
    return TEXT


@dataclass(frozen=True)
class Segment:
    """A run of in-force prompt text and how its offsets map back to source lines.

    `verbatim`: the text's lines are the source lines from `line` on. Otherwise the text was
    refolded (a YAML folded or plain scalar, a JSON string): an offset is mapped by counting
    words, since folding changes only white space; a one-line source maps everything to `line`.
    """

    text: str
    line: int
    verbatim: bool = True
    source_lines: tuple[str, ...] = ()

    def line_of(self, offset: int) -> int:
        # Called for every line and word of a prompt of up to max_prompt_bytes: each call
        # must not rescan the text before OFFSET.
        if self.verbatim:
            return self.line + bisect_left(self._newlines, offset)
        if len(self.source_lines) <= 1:
            return self.line
        words = bisect_left(self._word_starts, offset)
        i = bisect_right(self._words_through_line, words)
        return self.line + min(i, len(self.source_lines) - 1)

    @cached_property
    def _newlines(self) -> tuple[int, ...]:
        return tuple(m.start() for m in re.finditer("\n", self.text))

    @cached_property
    def _word_starts(self) -> tuple[int, ...]:
        return tuple(m.start() for m in re.finditer(r"\S+", self.text))

    @cached_property
    def _words_through_line(self) -> tuple[int, ...]:
        """Words in the source up to and including each source line."""
        return tuple(accumulate(len(src.split()) for src in self.source_lines))


def decode(data: bytes, path: str, max_bytes: int, *, landed: bool = False) -> str:
    """Bytes of a prompt file to text; binary, oversized, LFS and non-UTF-8 files fail closed.

    `landed`: the version a change starts from, already in history. The gate judges the
    change, and the commit that repairs such a file must be able to land: that version is
    read as well as it can be (bytes that are not UTF-8 replaced, NUL bytes dropped). A
    change can only start from an unreadable version that an earlier change, which the gate
    stopped, brought in.
    """
    if landed:
        text = data.decode("utf-8-sig", errors="replace").replace("\0", "")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    if len(data) > max_bytes:
        raise PromptError(
            f"{path}: prompt file is {len(data)} bytes, over max_prompt_bytes ({max_bytes})",
            "split the prompt, or raise max_prompt_bytes in the policy",
        )
    if data.startswith(_LFS):
        raise PromptError(
            f"{path}: is a Git LFS pointer, not a prompt",
            "keep prompt files out of LFS (git lfs untrack) so they can be audited",
        )
    if b"\0" in data:
        raise PromptError(
            f"{path}: is a binary file, not a prompt", "exclude it from the prompts globs"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptError(
            f"{path}: is not valid UTF-8 (byte {exc.start})", "re-save the prompt as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract(
    path: str,
    text: str,
    prompt_keys: Sequence[str] = (),
    *,
    keep_html_comments: bool = False,
    landed: bool = False,
) -> list[Segment]:
    """The in-force segments of a prompt file's text.

    `keep_html_comments`: what the model is sent, rather than what is in force. An HTML
    comment in a Markdown prompt carries no rule, but the model reads it all the same, so a
    forbidden instruction hidden in one still counts.
    `landed`: the version a change starts from (see decode). A YAML or JSON file there that
    does not parse is read as plain text, so that the commit repairing it can land, and what
    it drops from the text is still seen.
    """
    fmt = format_of(path)
    if fmt in (YAML, JSON):
        try:
            if fmt == YAML:
                return _yaml_segments(path, text, prompt_keys)
            return _json_segments(path, text, prompt_keys)
        except RecursionError:
            if landed:
                return [Segment(text, 1)]
            raise PromptError(
                f"{path}: is nested too deeply to read as a prompt file",
                "flatten the document; a prompt file needs no such depth",
            ) from None
        except PromptError:
            if landed:
                return [Segment(text, 1)]
            raise
    if fmt == JINJA:
        text = strip_jinja(text)
    return [Segment(text if keep_html_comments else strip_html_comments(text), 1)]


def _blank(match: re.Match[str]) -> str:
    """Replace a span by nothing but its newlines, so line numbers stay true."""
    return "\n" * match.group(0).count("\n") + (" " if "\n" not in match.group(0) else "")


_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def strip_html_comments(text: str) -> str:
    return _HTML_COMMENT.sub(_blank, text)


_JINJA_TOKEN = re.compile(r"\{#.*?(?:#\}|\Z)|\{%-?\s*(\w+)(.*?)-?%\}|\{\{.*?\}\}", re.S)
_FALSE_TESTS = re.compile(r"^\s*(?:false|False|0|none|None|\"\"|''|not\s+true|not\s+True)\s*$")
_TRUE_TESTS = re.compile(r"^\s*(?:true|True|1|not\s+false|not\s+False)\s*$")


def strip_jinja(text: str) -> str:
    """Blank Jinja comments, tags, expressions and branches that never render; keep `{% raw %}` text.

    A branch never renders under `{% if false %}`, and after `{% if true %}` (its `elif` and
    `else`): a guardrail moved there is gone from the prompt.
    """
    out: list[str] = []
    pos = 0
    dead = 0  # depth inside a block that never renders
    # For each open if: is its current branch dead, and has an earlier branch surely rendered.
    stack: list[tuple[bool, bool]] = []
    captures: list[str] = []
    raw = False
    for m in _JINJA_TOKEN.finditer(text):
        if raw and m.group(1) != "endraw":
            continue
        keep = text[pos : m.start()]
        out.append(_blank_str(keep) if dead else keep)
        out.append(_blank_str(m.group(0)) if dead else _rendered(m.group(0)))
        pos = m.end()
        tag, rest = m.group(1), m.group(2) or ""
        if (tag == "set" and "=" not in rest) or tag == "macro":
            # A captured block or a macro body renders only where it is used, if anywhere.
            captures.append(tag)
            dead += 1
        elif tag in ("endset", "endmacro") and captures:
            captures.pop()
            dead -= 1
        elif tag == "raw":
            raw = True
        elif tag == "endraw":
            raw = False
        elif tag == "if":
            never = bool(_FALSE_TESTS.match(rest))
            stack.append((never, bool(_TRUE_TESTS.match(rest))))
            dead += never
        elif tag in ("elif", "else") and stack:
            was_dead, taken = stack[-1]
            never = taken or (tag == "elif" and bool(_FALSE_TESTS.match(rest)))
            stack[-1] = (never, taken or (tag == "elif" and bool(_TRUE_TESTS.match(rest))))
            dead += never - was_dead
        elif tag == "endif" and stack:
            dead -= stack.pop()[0]
    tail = text[pos:]
    out.append(_blank_str(tail) if dead else tail)
    return "".join(out)


_STRING_LITERAL = re.compile(r"""^\{\{-?\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*-?\}\}$""")


def _rendered(token: str) -> str:
    """What a Jinja token puts into the prompt, as far as can be known without rendering.

    A string literal renders as itself and a comment as nothing (so `politi{# x #}cally`
    reads as one word); any other expression is a value of its own, and a tag separates
    what is on either side of it (the branches of an if never run together). Newlines are
    kept so that line numbers stay true.
    """
    if "\n" in token:
        return "\n" * token.count("\n")
    literal = _STRING_LITERAL.match(token)
    if literal:
        return literal.group(1) if literal.group(1) is not None else literal.group(2)
    return "" if token.startswith("{#") else " "


def _blank_str(s: str) -> str:
    return "\n" * s.count("\n") if "\n" in s else " " * (1 if s else 0)


# -- YAML ----------------------------------------------------------------------------------


def _yaml_segments(path: str, text: str, prompt_keys: Sequence[str]) -> list[Segment]:
    import yaml  # only when a YAML prompt is read

    # YAML also breaks lines at NEL and the Unicode line/paragraph separators; git and every
    # editor do not. Read them as spaces so that YAML's line numbers are the file's.
    text = text.translate(_YAML_ONLY_BREAKS)
    lines = text.split("\n")
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PromptError(
            f"{where}: YAML does not parse: {problem}", "fix the YAML syntax"
        ) from None
    segments: list[Segment] = []
    seen: set[int] = set()
    for doc in docs:
        if doc is not None:
            for node in _yaml_prompt_nodes(doc, prompt_keys, seen):
                segments.append(_yaml_segment(node, lines))
    return segments


_YAML_ONLY_BREAKS = str.maketrans({"\x85": " ", "\u2028": " ", "\u2029": " "})


def _yaml_prompt_nodes(node: Any, prompt_keys: Sequence[str], seen: set[int]) -> Iterator[Any]:
    """Prompt text nodes. An aliased node is visited once: its text is in force where it is
    written, and revisiting it through every alias would take exponential time (an alias
    bomb) or forever (a recursive alias)."""
    import yaml

    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        pairs = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        role = pairs.get("role")
        is_prompt_message = isinstance(role, yaml.ScalarNode) and role.value in PROMPT_ROLES
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if (key in prompt_keys or (is_prompt_message and key == "content")) and not (
                isinstance(value, yaml.MappingNode)
            ):
                yield from _yaml_strings(value)
            else:
                yield from _yaml_prompt_nodes(value, prompt_keys, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _yaml_prompt_nodes(item, prompt_keys, seen)


def _yaml_strings(node: Any) -> Iterator[Any]:
    """String scalars of a prompt value: a string, a list of strings, or content parts."""
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == "text":
                        yield from _yaml_strings(v)
            else:
                yield from _yaml_strings(item)


def _yaml_segment(node: Any, lines: list[str]) -> Segment:
    start, end = node.start_mark.line, node.end_mark.line
    if node.style == "|":
        return Segment(node.value, start + 2)
    if node.style == ">":
        src = tuple(lines[start + 1 : end + 1])
        start += 1
    else:
        first = lines[start][node.start_mark.column :] if start < len(lines) else ""
        src = (first, *lines[start + 1 : end + 1])
    if node.end_mark.column == 0 and end > start:
        src = src[:-1]
    return Segment(node.value, start + 1, verbatim=False, source_lines=tuple(src))


# -- JSON ----------------------------------------------------------------------------------


def _json_segments(path: str, text: str, prompt_keys: Sequence[str]) -> list[Segment]:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(
            f"{path}:{exc.lineno}: JSON does not parse: {exc.msg}", "fix the JSON syntax"
        ) from None
    root, _ = _JsonPositions(text).value(_skip_ws(text, 0))
    segments: list[Segment] = []
    for value, line in _json_prompt_strings(root, prompt_keys):
        segments.append(Segment(value, line, verbatim=False))
    return segments


@dataclass
class _JStr:
    value: str
    line: int


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n\r":
        i += 1
    return i


class _JsonPositions:
    """A JSON reader that keeps each string's line; the text is already known to be valid."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._decoder = json.JSONDecoder()
        # Strings are read left to right: count newlines from the last one read, not from the
        # start, or a large prompt file costs quadratic time.
        self._line = 1
        self._line_pos = 0

    def _line_of(self, i: int) -> int:
        self._line += self.text.count("\n", self._line_pos, i)
        self._line_pos = i
        return self._line

    def value(self, i: int) -> tuple[Any, int]:
        t = self.text
        c = t[i]
        if c == "{":
            obj: list[tuple[str, Any]] = []
            i = _skip_ws(t, i + 1)
            if t[i] == "}":
                return obj, i + 1
            while True:
                key, i = self.value(i)
                i = _skip_ws(t, i)
                i = _skip_ws(t, i + 1)  # the colon
                val, i = self.value(i)
                obj.append((key.value, val))
                i = _skip_ws(t, i)
                if t[i] == "}":
                    return _JObj(obj), i + 1
                i = _skip_ws(t, i + 1)
        if c == "[":
            arr: list[Any] = []
            i = _skip_ws(t, i + 1)
            if t[i] == "]":
                return arr, i + 1
            while True:
                val, i = self.value(i)
                arr.append(val)
                i = _skip_ws(t, i)
                if t[i] == "]":
                    return arr, i + 1
                i = _skip_ws(t, i + 1)
        if c == '"':
            s, end = json.decoder.scanstring(t, i + 1)  # type: ignore[attr-defined]
            # "\ud800" escapes a lone surrogate, which no UTF-8 output can carry.
            s = s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            return _JStr(s, self._line_of(i)), end
        val, end = self._decoder.raw_decode(t, i)
        return val, end


class _JObj(list[Any]):
    """A JSON object as its (key, value) pairs, in order."""


def _json_prompt_strings(node: Any, prompt_keys: Sequence[str]) -> Iterator[tuple[str, int]]:
    if isinstance(node, _JObj):
        role = next((v for k, v in node if k == "role"), None)
        is_prompt_message = isinstance(role, _JStr) and role.value in PROMPT_ROLES
        for key, value in node:
            if (key in prompt_keys or (is_prompt_message and key == "content")) and not isinstance(
                value, _JObj
            ):
                yield from _json_strings(value)
            else:
                yield from _json_prompt_strings(value, prompt_keys)
    elif isinstance(node, list):
        for item in node:
            yield from _json_prompt_strings(item, prompt_keys)


def _json_strings(node: Any) -> Iterator[tuple[str, int]]:
    if isinstance(node, _JStr):
        yield node.value, node.line
    elif isinstance(node, _JObj):
        for k, v in node:
            if k == "text":
                yield from _json_strings(v)
    elif isinstance(node, list):
        for item in node:
            yield from _json_strings(item)


def plain_data(path: str, text: str) -> Any:
    """The parsed document of a YAML/JSON prompt file, for describing structural changes."""
    if format_of(path) == YAML:
        import yaml

        return list(yaml.safe_load_all(text))
    return json.loads(text)
