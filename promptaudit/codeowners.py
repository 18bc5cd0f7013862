"""CODEOWNERS: who owns a prompt file, for the built-in policy's approvals.

GitHub's rules: the last matching line wins; a pattern without a slash matches at any depth;
a leading slash anchors it to the root; a folder covers everything below it. Only owners
written as email addresses count: `@user` and `@org/team` cannot be checked against a git
identity, so they are ignored rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptaudit.policy import Globs, email_of

# Where GitHub looks, in its order: when more than one exists, the first one found is used.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def _globs(pattern: str) -> tuple[str, ...]:
    anchored = pattern.startswith("/")
    body = pattern.strip("/")
    if not body:
        return ("**",)
    if not anchored and "/" not in body:
        body = "**/" + body
    if pattern.endswith("/"):
        return (body + "/**",)
    # A pattern naming a folder covers what is inside it too.
    return (body, body + "/**")


@dataclass(frozen=True)
class CodeOwners:
    rules: tuple[tuple[Globs, tuple[str, ...]], ...]

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The email owners of PATH (the last matching line wins); empty when none."""
        for globs, owners in reversed(self.rules):
            if globs.match(path):
                return owners
        return ()


def parse_codeowners(text: str) -> CodeOwners:
    rules = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("\\#") else raw.strip()
        if not line:
            continue
        pattern, *owners = line.split()
        emails = tuple(o for o in owners if email_of(o) is not None and not o.startswith("@"))
        rules.append((Globs(_globs(pattern)), emails))
    return CodeOwners(tuple(rules))
