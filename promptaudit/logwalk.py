"""The walk behind `promptaudit log`: guardrail events, commit by commit, at repository scale.

One `git log -p -U0` stream says which files and lines each commit changed; versions.py
carries each prompt file's clauses forward through those edits. A commit is audited only
when a clause that can matter changed; then the audit runs on the file's clauses that can
matter (and, when one left, every clause of the paragraphs read again), which gives the
same findings as auditing the whole file, as review does. Each commit is judged by its
parent's policy; approvals are weighed as the gates weigh them, and a commit that cannot be
judged is reported with the events rather than instead of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from promptaudit.audit import FileChange, audit
from promptaudit.clauses import Clause
from promptaudit.errors import FatalError, PolicyError, PromptError
from promptaudit.findings import Finding
from promptaudit.git import RangeCommit
from promptaudit.gitlog import (
    ApprovalOnlyCommits,
    LogCommit,
    LogFile,
    LogQuery,
    PolicyVersions,
    count_commits,
    log_stream,
)
from promptaudit.history import Event, LogOptions, Unjudged
from promptaudit.policy import POLICY_FILES, Policy
from promptaudit.policy_load import default_policy, load_policy
from promptaudit.relevance import prepare
from promptaudit.versions import Versions, context, size_in_part, update, whole_side

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from promptaudit.git import Repository


@dataclass
class _Walk:
    repo: Repository
    options: LogOptions
    reader: Versions
    policies: dict[str | None, Policy] = field(default_factory=dict)
    policy_blob: dict[str, str | None] = field(default_factory=dict)

    # -- policies --------------------------------------------------------------------------

    def policy_for(self, blob: str | None, fallback: str | None = None) -> Policy:
        key = blob or fallback
        if key not in self.policies:
            if key is None:
                self.policies[key] = default_policy()
            else:
                data = self.repo.blobs.read(key) or b""
                self.policies[key] = load_policy(
                    data.decode("utf-8-sig"),
                    f"promptaudit.toml@{key[:12]}",
                    path="promptaudit.toml",
                )
        return self.policies[key]

    def parent_policy_blob(self, parent: str | None) -> str | None:
        if parent is None:
            return None
        if parent not in self.policy_blob:
            found = [b for name in POLICY_FILES if (b := self.repo.blob_at(parent, name))]
            if len(found) > 1:
                raise PolicyError(
                    f"both promptaudit.toml and .promptaudit.toml exist at {parent[:12]}",
                    "keep one policy file and delete the other",
                )
            self.policy_blob[parent] = found[0] if found else None
        return self.policy_blob[parent]


def events(
    repo: Repository,
    options: LogOptions,
    end: str | None,
    policies: PolicyVersions,
    progress: Callable[[int], None] | None,
    while_git_starts: Callable[[], object] | None,
    unjudged: list[Unjudged] | None,
) -> Iterator[Event]:
    """history.walk, once it has asked git for the versions of the policy file up to END
    (POLICIES)."""
    if options.guardrail is not None:
        _check_rule_id(repo, options.guardrail)
    w = _Walk(repo, options, Versions(repo))
    names = _historical_names(repo, options.paths) if options.paths else None
    stream = log_stream(repo, _query(repo, options, end, policies))
    if while_git_starts is not None:
        while_git_starts()
    _prepare(w, end)
    judged: list[_Judged] = []
    later: ApprovalOnlyCommits | None = None
    for n, commit in enumerate(stream, 1):
        if progress is not None:
            progress(n)
        try:
            found = _judge_commit(w, commit)
        except (PromptError, PolicyError) as exc:
            if unjudged is None:
                raise
            author = f"{commit.author_name} <{commit.author_email}>"
            unjudged.append(
                Unjudged(commit.sha, commit.date, author, commit.subject, exc.message, exc.hint)
            )
            continue
        if found is None:
            continue
        judged.append(found)
        if later is None and end is not None and _waiting(found):
            later = ApprovalOnlyCommits(repo, end)
    if later is not None:
        _weigh_later_approvals(repo, judged, later.result())
    for j in judged:
        c = j.commit
        for finding in sorted(j.findings, key=Finding.sort_key):
            if names is not None and finding.path not in names:
                continue
            event = Event(c.sha, c.date, f"{c.author_name} <{c.author_email}>", c.subject, finding)
            if options.unapproved and not event.unapproved:
                continue
            yield event


def _prepare(w: _Walk, end: str | None) -> None:
    """Read and compile the policy at END while git walks the range (git log --reverse
    prints nothing before its walk is done): it judges most commits of a history."""
    try:
        policy = w.policy_for(w.parent_policy_blob(end))
    except PolicyError:
        return  # an invalid policy is reported where it judges
    prepare(policy)


def count_walked(repo: Repository, options: LogOptions) -> int | None:
    """history.count: how many commits the walk reads with OPTIONS."""
    end = (repo.commit_of(options.until) if options.until else None) or repo.head()
    policies = PolicyVersions(repo, end or "HEAD", POLICY_FILES)
    return count_commits(repo, _query(repo, options, end, policies))


def _query(
    repo: Repository, options: LogOptions, end: str | None, policies: PolicyVersions
) -> LogQuery:
    return LogQuery(
        since=options.since,
        until=options.until,
        first_parent=options.first_parent,
        policy_paths=POLICY_FILES,
        prompt_globs=_walk_globs(repo, end or "HEAD", policies),
    )


def _check_rule_id(repo: Repository, rule_id: str) -> None:
    """A FatalError unless RULE_ID names a rule of the default policy or of any policy file
    the history holds: a mistyped id would otherwise make `--unapproved` find nothing."""
    known = {r.id for r in (*default_policy().guardrails, *default_policy().forbidden)}
    for policy in _policy_history(repo, "HEAD", PolicyVersions(repo, "HEAD", POLICY_FILES))[0]:
        known |= {r.id for r in (*policy.guardrails, *policy.forbidden)}
    if rule_id in known:
        return
    raise FatalError(
        f"--guardrail {rule_id!r} names no guardrail or forbidden entry of any policy",
        "known ids: " + ", ".join(sorted(known)),
    )


def _historical_names(repo: Repository, paths: Sequence[str]) -> set[str]:
    """Every name the given files had, so that a renamed file keeps its history.

    The walk itself always reads every prompt file: narrowing git's pathspec would hide the
    other side of a rename, and the renamed file would look newly added.
    """
    names = set(paths)
    for path in paths:
        names.update(repo.names_of(path))
    return names


def _walk_globs(repo: Repository, end: str, versions: PolicyVersions) -> tuple[str, ...]:
    """Which paths to ask git about: what any policy in the history calls a prompt.

    Each commit is judged by its parent's policy, so a glob that HEAD's policy dropped still
    decides what the older commits changed; and where no policy file was in force, the
    built-in default's globs did. The files that decide who approves come along.
    """
    globs: dict[str, None] = {}
    policies, default_in_force = _policy_history(repo, end, versions)
    if default_in_force:
        policies.append(default_policy())
    for policy in policies:
        globs.update(dict.fromkeys(policy.prompts))
        globs.update(dict.fromkeys(_approval_config(policy)))
    return tuple(globs)


def _policy_history(
    repo: Repository, end: str, versions: PolicyVersions
) -> tuple[list[Policy], bool]:
    """Every valid version of the policy file up to END (VERSIONS, git's answer), and
    whether some commit there had none (the built-in default judged it)."""
    blobs, some_had_none = versions.result()
    default_in_force = some_had_none or not any(repo.blob_at(end, name) for name in POLICY_FILES)
    policies = []
    for blob in blobs:
        try:
            data = repo.blobs.read(blob) or b""
            policies.append(load_policy(data.decode("utf-8-sig"), "promptaudit.toml"))
        except (PolicyError, UnicodeDecodeError):
            continue  # a broken version fails where it judges, with its own message
    return policies, default_in_force


@dataclass
class _Judged:
    """One commit's findings, with what judged them: the parent's policy, and the range
    an approval given later is weighed over."""

    commit: LogCommit
    parent: str | None
    judge: Policy
    base_policy: Policy | None
    findings: list[Finding]


def _judge_commit(w: _Walk, c: LogCommit) -> _Judged | None:
    if len(c.parents) > 1 and not w.options.first_parent:
        # Each side's commits are judged on their own; git shows the merge without files, so
        # the policy it leaves is read from the merge itself when a child asks for it.
        return None
    parent = c.parents[0] if c.parents else None
    if parent is None and w.repo.shallow:
        w.repo.parent(c.sha)  # a GitError when the clone cut this commit's parents off
    base_blob = w.parent_policy_blob(parent)
    policy_changed = [
        f for f in c.files if f.new_path in POLICY_FILES or f.old_path in POLICY_FILES
    ]
    new_policy_blob = base_blob
    for f in policy_changed:
        new_policy_blob = f.new_blob if f.new_path in POLICY_FILES else None
    w.policy_blob[c.sha] = new_policy_blob
    judge = w.policy_for(base_blob, fallback=new_policy_blob)

    findings: list[Finding] = []
    whole: list[FileChange] = []
    _follow_moves_out(w, c, parent, judge)
    alone = not any(f.new_path is None and judge.is_prompt(f.old_path or "") for f in c.files)
    for f in c.files:
        if f.old_path in POLICY_FILES or f.new_path in POLICY_FILES:
            continue
        result = _file_findings(w, judge, f, alone)
        if isinstance(result, FileChange):
            whole.append(result)
        else:
            findings += result
    if whole:
        # Together, so that a deleted and an added file can pair up as a move, as in review.
        findings += audit(judge, whole)
    base_policy = w.policy_for(base_blob) if base_blob else None
    findings += _policy_changes(w, c, judge, base_policy, bool(policy_changed))
    if not findings:
        return None
    from promptaudit.review import judge_sets

    findings = judge_sets(w.repo, c.sha, judge, findings)
    findings = [f for f in findings if w.options.guardrail in (None, f.guardrail)]
    if any(f.blocking for f in findings):
        from promptaudit.gather import weigh_approvals
        from promptaudit.review import ApprovalInput, Range

        given = ApprovalInput(commits=_as_range(c) if len(c.parents) <= 1 else None)
        findings = weigh_approvals(
            w.repo, Range(parent, c.sha), judge, base_policy, findings, given
        )
    return _Judged(c, parent, judge, base_policy, findings)


def _follow_moves_out(w: _Walk, c: LogCommit, parent: str | None, judge: Policy) -> None:
    """A prompt moved where the walk does not look reads as a deletion in the walk's diff:
    pair it as review does, over the whole tree, so that the event says where it went."""
    deleted = {
        f.old_path: f
        for f in c.files
        if f.new_path is None and f.old_path is not None and judge.is_prompt(f.old_path)
    }
    if not deleted or parent is None:
        return
    for change in w.repo.diff(parent, c.sha):
        f = deleted.get(change.old_path or "") if change.status == "R" else None
        if f is not None:
            f.status, f.new_path, f.new_blob = "R", change.new_path, change.new_blob


def _policy_changes(
    w: _Walk, c: LogCommit, judge: Policy, base_policy: Policy | None, policy_changed: bool
) -> list[Finding]:
    """What review finds in the policy and approval files: a laxer policy (first adoption
    included), and edits to CODEOWNERS or allowed_signers."""
    changed = {p for f in c.files for p in (f.old_path, f.new_path) if p}
    if not policy_changed and changed.isdisjoint(_approval_config(judge)):
        return []
    from promptaudit.review import Range, approval_file_findings, policy_findings

    found = approval_file_findings(judge, base_policy, changed)
    if policy_changed:
        parent = c.parents[0] if c.parents else None
        found += policy_findings(w.repo, Range(parent, c.sha), base_policy)
    return found


def _approval_config(policy: Policy) -> frozenset[str]:
    """The files that decide who approves: CODEOWNERS and the policy's allowed_signers."""
    return _approval_files(policy.allowed_signers)


@lru_cache(maxsize=64)
def _approval_files(allowed_signers: str | None) -> frozenset[str]:
    from promptaudit.codeowners import LOCATIONS

    return frozenset((*LOCATIONS, *([allowed_signers] if allowed_signers else [])))


def _waiting(j: _Judged) -> bool:
    return any(f.blocking and not f.approved for f in j.findings)


def _weigh_later_approvals(repo: Repository, judged: list[_Judged], later: list[str]) -> None:
    """Count approvals given after a change, in a commit that only approves.

    The gates accept a push or a merge whose range holds the change and, after it, an
    approval-only commit (an empty commit with the trailer, or one adding signed records).
    Judged alone, the change would look unapproved; weighed over parent..approval, as the
    gate weighed it, it is approved when the range still shows the finding as it was made
    (the approver saw that change, not one edited or undone since) and the approval counts.
    """
    waiting = [j for j in judged if _waiting(j)]
    if not waiting or not later:
        return
    from promptaudit.gather import weigh_approvals
    from promptaudit.review import ApprovalInput, Range, run_review

    for j in waiting:
        for sha in later:
            open_ = [f for f in j.findings if f.blocking and not f.approved]
            if not open_:
                break
            if sha == j.commit.sha or not repo.is_ancestor(j.commit.sha, sha):
                continue
            seen = {
                f.fingerprint for f in run_review(repo, Range(j.parent, sha), weigh=False).findings
            }
            open_ = [f for f in open_ if f.fingerprint in seen]
            if not open_:
                continue
            weighed = weigh_approvals(
                repo, Range(j.parent, sha), j.judge, j.base_policy, open_, ApprovalInput()
            )
            now = {
                id(old): new.with_approvals(
                    True, new.approved_by, (*new.approval_notes, f"approved later, in {sha[:12]}")
                )
                for old, new in zip(open_, weighed, strict=True)
                if new.approved
            }
            j.findings = [now.get(id(f), f) for f in j.findings]


def _as_range(c: LogCommit) -> tuple[RangeCommit, ...]:
    """A commit with one parent is the whole range parent..commit: the log has read it."""
    paths = {p for f in c.files for p in (f.old_path, f.new_path) if p}
    commit = RangeCommit(
        c.sha, c.author_name, c.author_email, c.date, c.subject, c.trailers, tuple(sorted(paths))
    )
    return (commit,)


def _file_findings(w: _Walk, judge: Policy, f: LogFile, alone: bool) -> list[Finding] | FileChange:
    """Findings of an edit read in part, or the FileChange to audit whole with the others.
    ALONE: the commit deletes no prompt, so an added file cannot pair up as a move."""
    old_in = f.old_path is not None and f.old_blob is not None and judge.is_prompt(f.old_path)
    new_in = f.new_path is not None and f.new_blob is not None and judge.is_prompt(f.new_path)
    if not old_in and not new_in:
        return []
    if f.binary:
        raise PromptError(
            f"{f.new_path or f.old_path}: is a binary file, not a prompt",
            "exclude it from the prompts globs",
        )
    edited = old_in and new_in and f.old_path == f.new_path and f.hunks
    old = (
        w.reader.version(f.old_blob or "", f.old_path or "", judge, landed=True) if edited else None
    )
    size = None if old is None else size_in_part(old, f, judge.max_prompt_bytes)
    if old is not None and size is not None:
        path = f.new_path or ""
        edit = update(w.reader, path, old, f, judge, size)
        w.reader.remember(f.new_blob or "", edit.new)
        if not edit.departed and not edit.arrived:
            return []
        if edit.departed:
            # A rule that left is matched to what it became among every new clause, as in
            # review, also those that cannot matter alone ("You may: ..." for "You must
            # never: ..."): the re-read paragraphs are taken whole, on both sides.
            before = whole_side(path, old, [(r.old_items, r.old_lines) for r in edit.reread])
            after = whole_side(path, edit.new, [(r.new_items, r.new_lines) for r in edit.reread])
        else:
            before, after = context(path, old), context(path, edit.new)
        # Context clauses equal on both sides cancel in the audit, as they do in a whole-file one.
        return _audit_clauses(judge, path, path, before, after)
    if alone and f.old_path is None and new_in:
        added = w.reader.version(f.new_blob or "", f.new_path or "", judge)
        if added.simple:
            # Every clause is new, as in an edit that only adds: its clauses that can matter
            # are all the audit needs (the first commit of a history adds every prompt).
            path = f.new_path or ""
            return _audit_clauses(judge, None, path, [], context(path, added))
    # Added, deleted, renamed or mode-changed files, and edits of files with comments or
    # fences (what they hide is judged on the whole text, as review judges it): both whole.
    old_text = _text(w, f.old_blob, f.old_path, judge, landed=True) if old_in else None
    new_text = _text(w, f.new_blob, f.new_path, judge) if new_in else None
    return FileChange(f.old_path, f.new_path, old_text, new_text)


def _text(
    w: _Walk, blob: str | None, path: str | None, policy: Policy, landed: bool = False
) -> str | None:
    if blob is None or path is None:
        return None
    v = w.reader.version(blob, path, policy, landed=landed)
    return "\n".join(v.lines)


def _audit_clauses(
    policy: Policy, old_path: str | None, new_path: str, before: list[Clause], after: list[Clause]
) -> list[Finding]:
    sides = {"old": before, "new": after}

    def parse(_path: str, text: str) -> list[Clause]:
        return sides[text]

    return audit(policy, [FileChange(old_path, new_path, "old", "new")], parse=parse)
