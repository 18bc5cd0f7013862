"""Guardrail history: what `promptaudit log` reports, commit by commit, and the start of its walk.

The walk itself (logwalk.py) loads most of promptaudit: the audit, matching, policies. Its
first question to git, every version of the policy file, is asked before that load, so that
git walks the history while Python imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptaudit.gitlog import PolicyVersions
from promptaudit.names import POLICY_FILES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from promptaudit.findings import Finding
    from promptaudit.git import Repository


@dataclass(frozen=True)
class Event:
    """A finding at one commit of the history, judged by the policy of the commit's parent."""

    commit: str
    date: str
    author: str
    subject: str
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "subject": self.subject,
            **self.finding.to_dict(),
        }

    @property
    def unapproved(self) -> bool:
        return self.finding.blocking and not self.finding.approved


@dataclass(frozen=True)
class Unjudged:
    """A commit the walk could not judge (a prompt that does not parse, an invalid policy):
    the cause and its hint, reported with the events rather than instead of them."""

    commit: str
    date: str
    author: str
    subject: str
    error: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "subject": self.subject,
            "error": self.error,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class LogOptions:
    paths: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    guardrail: str | None = None
    unapproved: bool = False
    first_parent: bool = False


def walk(
    repo: Repository,
    options: LogOptions,
    progress: Callable[[int], None] | None = None,
    while_git_starts: Callable[[], object] | None = None,
    unjudged: list[Unjudged] | None = None,
) -> Iterator[Event]:
    """Every guardrail event in the walked history, oldest first.

    `while_git_starts` runs once git log is started, before its first commit arrives: git
    walks the whole range before it prints anything, and that wait can do useful work.
    A commit that cannot be judged (a prompt or a policy that does not parse) raises its
    PromptError or PolicyError; given UNJUDGED, the walk records it there and goes on, so
    that one broken commit does not hide a year of events.
    """
    end = (repo.commit_of(options.until) if options.until else None) or repo.head()
    policies = PolicyVersions(repo, end or "HEAD", POLICY_FILES)
    from promptaudit.logwalk import events

    return events(repo, options, end, policies, progress, while_git_starts, unjudged)


def count(repo: Repository, options: LogOptions) -> int | None:
    """How many commits `walk` reads with OPTIONS: the total of a progress bar."""
    from promptaudit.logwalk import count_walked

    return count_walked(repo, options)
