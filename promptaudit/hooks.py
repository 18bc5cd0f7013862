"""What each git hook does: `promptaudit hook NAME [ARGS]`, called by the scripts in hooks/.

The gating hooks (commit-msg, pre-merge-commit, pre-push, pre-receive and the two pre-commit
framework entries) fail closed: an error exits non-zero with one line and a hint. The
pre-commit hook only informs and always exits 0: commit-msg, which sees the approval
trailers of the message being written, is the gate.

A merge is judged as the server will judge the merge commit: the merge result against the
first parent, with the approvals carried by the commits it brings in (an approved change
merged from another branch must pass here too, or people learn to use --no-verify).
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING

from promptaudit.errors import EXIT_BLOCKED, EXIT_OK, FatalError
from promptaudit.git import INDEX, Repository
from promptaudit.globs import Globs
from promptaudit.hook_scripts import HookError
from promptaudit.review import ApprovalInput, Range, resolve_range, run_review

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.findings import Review


def _say(text: str, *, nl: bool = True) -> None:
    """To stderr, as git relays a hook's words (no click: hooks start without it)."""
    sys.stderr.write(text + ("\n" if nl else ""))
    sys.stderr.flush()


FRAMEWORK_HOOKS = ("framework-commit-msg", "framework-push")
NAMES = (
    "commit-msg",
    "pre-commit",
    "pre-merge-commit",
    "pre-push",
    "pre-receive",
    *FRAMEWORK_HOOKS,
)
CANDIDATE_MESSAGE = "promptaudit: git's automatic merge (a candidate no ref points to)\n"
BY_HAND_MESSAGE = "promptaudit: what the merge result changes by hand (a candidate)\n"
_INFORM_ONLY = (
    "promptaudit: (pre-commit only informs; the commit-msg hook stops the commit unless "
    "its message carries the approval)"
)

_RANGE_HINT = (
    'Ask one of them to approve, then either add the trailer "Guardrail-Approved-by: Name '
    '<email>" to a commit of the range (amend it, or add an empty commit carrying it)'
)

# git runs pre-merge-commit before it writes the merge message, and keeps the merge (index,
# MERGE_HEAD, MERGE_MSG with any -m text) when the hook fails: `git commit` then finishes it
# through commit-msg, which reads the message.
MERGE_HINT = (
    "Ask one of them to approve. This hook runs before git writes the merge message, so it "
    "cannot see an approval there. The merge is stopped, not undone: finish it with "
    'git commit -m "Merge ..." -m "Guardrail-Approved-by: Name <email>", or with '
    "git commit --no-edit when your git merge -m already carried that trailer; the commit-msg "
    "hook reads it. git merge --abort undoes the merge"
)

# pre-commit filters the message file like any other by the config's files/exclude patterns.
_NO_MESSAGE = (
    "promptaudit: pre-commit passed no commit message file (a top-level files: or exclude: "
    "filtered it out?), so approval trailers in the message were not read"
)

_UNKNOWN_MERGE = (
    "promptaudit: could not tell which commits this merge brings in, so their approval "
    "trailers were not read; git commit finishes the merge and reads them"
)


def run_hook(name: str, args: Sequence[str], *, repo_path: str, stdin: IO[bytes]) -> int:
    """Run hook NAME as git (or the pre-commit framework) calls it; return the exit code."""
    if name == "pre-commit":
        return _inform(repo_path)
    with Repository(repo_path) as repo:
        if name == "commit-msg":
            (message_file,) = _args(name, args, 1, 1)
            return _gate_staged(repo, _merging(repo, name), message_file)
        if name == "pre-merge-commit":
            _args(name, args, 0, 0)
            merging = _merging(repo, name)
            code = _gate_staged(repo, merging, None, hint=MERGE_HINT + ".")
            if code and not merging:
                _say(_UNKNOWN_MERGE)
            return code
        if name == "pre-push":
            remote = _args(name, args, 1, 2)[0]
            return _gate_refs(repo, push_ranges(repo, remote, _lines(stdin)))
        if name == "pre-receive":
            _args(name, args, 0, 0)
            protected = protected_refs(repo)
            return _gate_refs(repo, receive_ranges(repo, _lines(stdin), protected))
        if name == "framework-commit-msg":
            given = _args(name, args, 0, 1)
            code = _gate_staged(repo, _merging(repo, name), given[0] if given else None)
            if code and not given:
                _say(_NO_MESSAGE)
            return code
        if name == "framework-push":
            return _gate_refs(repo, [framework_range(repo)])
    raise HookError(f"unknown hook {name!r}", "choose one of: " + ", ".join(NAMES))


# -- the staged change: commit-msg, pre-commit, pre-merge-commit --------------------------


def staged_range(repo: Repository, merging: Sequence[str] = ()) -> Range:
    """What the next commit changes, against HEAD (its first parent).

    During a merge the range is made of commits no ref points to (gc prunes them): git's
    automatic merge of the merged commits, whose trailers approve what they bring in, and
    on top of it what the merge result changes by hand (conflict resolutions, edits made
    before committing), authored by whoever merges, so they cannot approve that part
    themselves. When git cannot produce the automatic merge (an octopus, git < 2.38) the
    merger counts as an author of all of it: stricter, never looser.
    """
    head = repo.head()
    if head is None or not merging:
        return Range(head, INDEX)
    result = repo.index_tree()
    automatic = repo.merge_tree(head, merging[0]) if len(merging) == 1 else None
    merge = repo.commit_tree(automatic or f"{head}^{{tree}}", [head, *merging], CANDIDATE_MESSAGE)
    by_hand = repo.commit_tree(result, [merge], BY_HAND_MESSAGE)
    return Range(head, by_hand)


def _merging(repo: Repository, hook: str) -> list[str]:
    """The commits a merge in progress brings in; [] when no merge is in progress.

    git writes MERGE_HEAD only after pre-merge-commit has run, so that hook learns the
    merged commits from GIT_REFLOG_ACTION, which `git merge` sets to "merge NAME..."
    (`git pull` keeps its own "pull ...": then FETCH_HEAD holds what is merged).
    """
    heads = repo.merge_heads()
    if heads or hook != "pre-merge-commit":
        return heads
    words = os.environ.get("GIT_REFLOG_ACTION", "").split()
    if words[:1] == ["merge"] and len(words) > 1:
        found = [repo.commit_of(w) for w in words[1:]]
        return [sha for sha in found if sha] if all(found) else []
    if words[:1] == ["pull"]:
        return repo.fetch_heads_for_merge()
    return []


def _gate_staged(
    repo: Repository, merging: Sequence[str], message_file: str | None, *, hint: str | None = None
) -> int:
    result = run_review(
        repo, staged_range(repo, merging), approvals=ApprovalInput(message_file=message_file)
    )
    if not result.blocked:
        return EXIT_OK
    from promptaudit.report import APPROVAL_HINT, render_check

    _say(render_check(result, hint or APPROVAL_HINT), nl=False)
    return EXIT_BLOCKED


def _inform(repo_path: str) -> int:
    """The pre-commit hook: say early what will need an approval; never stop the commit.

    It runs before the message is written, so a short notice, not a block: commit-msg
    decides, with the message's trailers.
    """
    try:
        with Repository(repo_path) as repo:
            result = run_review(repo, staged_range(repo, _merging(repo, "pre-commit")))
            if result.blocked:
                from promptaudit.report import render_notice

                _say(render_notice(result), nl=False)
    except FatalError as exc:
        _say(f"promptaudit: {exc.kind}: {exc.message}")
        if exc.hint:
            _say(f"hint: {exc.hint}")
        _say(_INFORM_ONLY)
    except Exception as exc:  # informational: even a bug must not stop a commit here
        if os.environ.get("PROMPTAUDIT_DEBUG"):
            raise
        _say(f"promptaudit: internal error: {type(exc).__name__}: {exc}")
        _say(_INFORM_ONLY)
    return EXIT_OK


# -- ranges of commits: pre-push, pre-receive, the framework's push stage ------------------


def _is_zero(sha: str) -> bool:
    return set(sha) == {"0"}


def push_ranges(repo: Repository, remote: str, lines: Sequence[str]) -> list[tuple[str, Range]]:
    """(remote ref, range) for each ref git is about to push; deletions are skipped.

    An update is judged remote sha..local sha; a new ref (or one whose remote commit we have
    never fetched) against the remote's default branch, or as a whole when there is none.
    """
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) != 4:
            raise HookError(
                f"pre-push: cannot parse the line {line!r}",
                "git feeds pre-push '<local ref> <local sha> <remote ref> <remote sha>' lines",
            )
        _local_ref, local_sha, remote_ref, remote_sha = fields
        if _is_zero(local_sha):
            continue
        head = repo.commit_of(local_sha)
        if head is None:  # a tag of a tree or a blob: it brings no prompt into any branch
            continue
        base = None if _is_zero(remote_sha) else repo.commit_of(remote_sha)
        if base is None:
            base = _base_on_default(repo, head, _remote_defaults(repo, remote))
        out.append((remote_ref, Range(base, head)))
    return out


def _remote_defaults(repo: Repository, remote: str) -> list[str]:
    return [f"refs/remotes/{remote}/{b}" for b in ("HEAD", "main", "master")]


def _base_on_default(repo: Repository, head: str, candidates: Sequence[str]) -> str | None:
    """merge-base with the first default-branch candidate that exists; None: the empty tree."""
    for name in candidates:
        default = repo.commit_of(name)
        if default is not None:
            return repo.common_ancestor(head, default)
    return None


PROTECTED_REFS = "promptaudit.protectedRefs"


def protected_refs(repo: Repository) -> Globs | None:
    """The refs pre-receive judges, from the server repository's git config; None: every ref.

    Server config rather than the policy file: a pusher can change what a branch carries,
    never the server's own settings. Unset means every ref, so forgetting it is safe. A value
    that is not a full ref name would silently protect nothing, so it is an error instead.
    """
    patterns = repo.config_all(PROTECTED_REFS)
    for pattern in patterns:
        if not pattern.startswith("refs/"):
            name = pattern.strip("/") or "main"
            raise HookError(
                f"{PROTECTED_REFS} = {pattern!r} is not a full ref name, so it protects nothing",
                f"write it as a full ref name, e.g. refs/heads/{name}",
            )
    return Globs(tuple(patterns)) if patterns else None


def receive_ranges(
    repo: Repository, lines: Sequence[str], protected: Globs | None = None
) -> list[tuple[str, Range]]:
    """(ref, range) for each ref update a push asks a server for; deletions are skipped.

    Only refs PROTECTED matches are judged (None: every ref), so a feature branch can be
    pushed for review and is judged when it reaches a protected branch. A new ref is judged
    against the repository's default branch (where HEAD points) when that exists and is not
    the ref itself, else as a whole.
    """
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) != 3:
            raise HookError(
                f"pre-receive: cannot parse the line {line!r}",
                "git feeds pre-receive '<old sha> <new sha> <ref>' lines",
            )
        old, new, ref = fields
        if _is_zero(new) or (protected is not None and not protected.match(ref)):
            continue
        head = repo.commit_of(new)
        if head is None:
            continue
        if not _is_zero(old):
            base = repo.commit_of(old)
            if base is None:
                raise HookError(
                    f"pre-receive: {ref} was at {old[:12]}, which is not a commit here",
                    "check the repository with git fsck",
                )
        else:
            default = repo.symbolic_ref("HEAD")
            candidates = [default] if default and default != ref else []
            base = _base_on_default(repo, head, candidates)
        out.append((ref, Range(base, head)))
    return out


def framework_range(repo: Repository) -> tuple[str, Range]:
    """The range the pre-commit framework hands over in its push and manual stages.

    PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF when set; a pushed branch whose history reaches a
    root commit the remote lacks comes without them (PRE_COMMIT_LOCAL_BRANCH only): judged
    whole; a manual run without refs reviews this branch against the default branch.
    """
    env = os.environ
    frm, to = env.get("PRE_COMMIT_FROM_REF"), env.get("PRE_COMMIT_TO_REF")
    if frm and to:
        head = repo.resolve(to)
        label = env.get("PRE_COMMIT_REMOTE_BRANCH") or to
        return label, Range(None if _is_zero(frm) else repo.resolve(frm), head)
    local = env.get("PRE_COMMIT_LOCAL_BRANCH")
    if local:
        return local, Range(None, repo.resolve(local))
    rng = resolve_range(repo, None)
    return "HEAD", rng


def _gate_refs(repo: Repository, ranges: Sequence[tuple[str, Range]]) -> int:
    blocked = 0
    for ref, rng in ranges:
        result: Review = run_review(repo, rng)
        if not result.blocked:
            continue
        from promptaudit.report import render_check

        blocked += 1
        hint = _RANGE_HINT
        if rng.base:
            hint += (
                ", or commit the signed approval they make with: promptaudit approve "
                f"{rng.base[:12]}..{rng.head[:12]}"
            )
        _say(f"promptaudit: {ref} ({rng.describe()}) is blocked")
        # The commits exist already: the hint for a message being written does not apply.
        _say(render_check(result, hint + "."), nl=False)
    if blocked:
        _say(f"promptaudit: rejected: {blocked} ref(s) blocked")
        return EXIT_BLOCKED
    return EXIT_OK


# -- input ---------------------------------------------------------------------------------


def _args(name: str, args: Sequence[str], low: int, high: int) -> Sequence[str]:
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise HookError(
            f"hook {name} takes {want} argument(s), got {len(args)}",
            "install the hook scripts with: promptaudit install-hooks",
        )
    return args


def _lines(stdin: IO[bytes]) -> list[str]:
    data = stdin.read().decode("utf-8", "surrogateescape")
    return [line for line in data.splitlines() if line.strip()]
