"""Path globs, as policies and CODEOWNERS write them: `**` spans folders, `*` does not.

Compiled to one anchored regular expression per list, so asking whether a path is a prompt
costs one match however many globs a policy lists.
"""

from __future__ import annotations

import re


def glob_to_regex(pattern: str) -> str:
    """Translate a path glob: `**` spans zero or more folders, `*` and `?` stay in one folder,
    `[abc]` is a character class and `{md,txt}` a list of alternatives."""
    i, out = 0, []
    pattern = pattern.lstrip("/")
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            options = pattern[i + 1 : end].split(",")
            out.append(
                "(?:"
                + "|".join(
                    glob_to_regex(o).removesuffix(".*") if o.endswith("/") else glob_to_regex(o)
                    for o in options
                )
                + ")"
            )
            i = end + 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^/" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    # A glob naming a folder (`prompts/`) covers everything below it.
    regex = "".join(out)
    if pattern.endswith("/"):
        regex += ".*"
    return regex


class Globs:
    """A list of globs as one anchored regular expression, compiled on first use.

    A plain class, not a dataclass: the hook's quick path matches staged paths against the
    prompt globs before anything heavier is imported.
    """

    __slots__ = ("_compiled", "_seen", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = tuple(patterns)
        self._compiled: re.Pattern[str] | bool | None = False
        # A history walk asks of the same few paths at every commit (bounded).
        self._seen: dict[str, bool] = {}

    def _regex(self) -> re.Pattern[str] | None:
        if self._compiled is False:
            alternatives = "|".join(f"(?:{glob_to_regex(p)})" for p in self.patterns)
            self._compiled = re.compile(rf"(?:{alternatives})\Z") if self.patterns else None
        return self._compiled  # type: ignore[return-value]

    def match(self, path: str) -> bool:
        found = self._seen.get(path)
        if found is None:
            if len(self._seen) >= 4096:
                self._seen.clear()
            regex = self._regex()
            found = self._seen[path] = regex is not None and regex.match(path) is not None
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Globs) and other.patterns == self.patterns

    def __hash__(self) -> int:
        return hash(self.patterns)

    def __repr__(self) -> str:
        return f"Globs({self.patterns!r})"
