"""One review: read the change from git, pick the policy that judges it, run the audit.

This is the only place where git and the pure audit meet. It reads nothing it does not need:
when a staged change touches no prompt and not the policy, it stops after one `git diff`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptaudit.errors import FatalError, GitError, PolicyError, PromptError, UsageError
from promptaudit.findings import Finding, Review
from promptaudit.git import INDEX, MODE_SUBMODULE, MODE_SYMLINK, Change, RangeCommit, Repository
from promptaudit.policy import POLICY_FILES, Policy, email_of
from promptaudit.policy_load import default_policy, load_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.audit import FileChange
    from promptaudit.clauses import Clause


@dataclass(frozen=True)
class Range:
    """What to review: BASE (None: the empty tree) to HEAD (a commit id, or INDEX)."""

    base: str | None
    head: str

    def describe(self) -> str:
        return f"{(self.base or 'empty tree')[:12]}..{self.head[:12]}"


def resolve_range(
    repo: Repository,
    spec: str | None,
    *,
    base: str | None = None,
    staged: bool = False,
    policy: Policy | None = None,
) -> Range:
    """Turn the command line's words into commit ids.

    `A..B` is a range as git means it (A's tree against B's); `A...B` and `--base A` start
    at the merge base of A and B (of A and HEAD), so a branch that is behind A is judged on
    what it changes, not on what A gained since the branch point; a single REV means
    REV^..REV (the empty tree for a root commit); nothing means
    merge-base(HEAD, default branch)..HEAD.
    """
    if staged:
        if spec or base is not None:
            given = spec if spec else f"--base {base}"
            raise UsageError(
                f"--staged reviews the index against HEAD; it takes no revisions ({given})",
                "drop --staged to review a range, or drop the range to review the index",
            )
        return Range(repo.head(), INDEX)
    if base is not None:
        if spec:
            raise UsageError(
                f"give either --base or a range, not both (--base {base} and {spec})",
                f"keep one: promptaudit review --base {base} (what HEAD changes since it left "
                f"{base}), or promptaudit review {spec}",
            )
        head = repo.resolve("HEAD")
        return Range(repo.merge_base(repo.resolve(base), head), head)
    if spec and ".." in spec:
        if "..." in spec:
            left, right = spec.split("...", 1)
            head = repo.resolve(right or "HEAD")
            return Range(repo.merge_base(repo.resolve(left or "HEAD"), head), head)
        left, right = spec.split("..", 1)
        return Range(repo.resolve(left or "HEAD"), repo.resolve(right or "HEAD"))
    if spec:
        head = repo.resolve(spec)
        return Range(repo.parent(head), head)
    head_sha = repo.head()
    if head_sha is None:
        raise GitError(
            "the repository has no commits yet", "commit first, or review the index: --staged"
        )
    configured = policy.default_branch if policy else _configured_default_branch(repo)
    branch = repo.default_branch(configured)
    return Range(repo.merge_base(repo.resolve(branch), head_sha), head_sha)


def _configured_default_branch(repo: Repository) -> str | None:
    try:
        found = _policy_at(repo, "HEAD")
    except PolicyError:
        return None
    return found.default_branch if found else None


def _read(repo: Repository, rev: str | None, path: str) -> bytes | None:
    if rev is None:
        return None
    return repo.blobs.read(f":{path}" if rev == INDEX else f"{rev}:{path}")


def _policy_at(repo: Repository, rev: str | None) -> Policy | None:
    """The policy committed at REV (or staged in the index), None when there is none."""
    found = [(name, data) for name in POLICY_FILES if (data := _read(repo, rev, name)) is not None]
    where = "the index" if rev == INDEX else (rev[:12] if rev else "")
    if len(found) > 1:
        raise PolicyError(
            f"both promptaudit.toml and .promptaudit.toml exist at {where}",
            "keep one policy file and delete the other",
        )
    if not found:
        return None
    name, data = found[0]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PolicyError(f"{name} at {where} is not UTF-8", "re-save it as UTF-8") from None
    return load_policy(text, f"{name}@{where}", path=name)


def load_policy_file(path: str, *, hint: str = "check the --policy path") -> Policy:
    """The policy in the file PATH; HINT is what to tell a user when it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}", hint) from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy {path} is not UTF-8", "re-save it as UTF-8") from None
    return load_policy(text, path, path=os.path.basename(path))


def judging_policy(
    repo: Repository, rng: Range, override: str | None = None
) -> tuple[Policy, Policy | None]:
    """(the policy that judges, BASE's own policy or None): BASE's, else HEAD's, else built-in."""
    if override:
        return load_policy_file(override), None
    try:
        at_base = _policy_at(repo, rng.base)
    except PolicyError as exc:
        # Committed past the gate: the change that repairs it is judged by it too, so the
        # user must be told the way out, not only what is wrong with the file.
        way_out = (
            "the repair is judged by this policy too: land it in a commit of its own past the "
            "hooks (git commit --no-verify; behind a server-side gate, an administrator's "
            "push), or review with --policy FILE"
        )
        raise PolicyError(
            f"the policy this change is judged by (at BASE) is invalid: {exc.message}",
            f"{exc.hint}; {way_out}" if exc.hint else way_out,
        ) from None
    if at_base is not None:
        return at_base, at_base
    at_head = _policy_at(repo, rng.head)
    return (at_head or default_policy()), None


@dataclass(frozen=True)
class ApprovalInput:
    """Approvals that come from outside the range: CI's list, the commit message being written."""

    approved_by: tuple[str, ...] = ()
    message_file: str | None = None
    # The range's commits, when the caller has read them already (a history walk): spares
    # running git log once per judged commit.
    commits: tuple[RangeCommit, ...] | None = None

    def __post_init__(self) -> None:
        # Approvals are matched by email: one without an email would be kept, listed, and
        # never count, and a CI script passing an empty variable would not be told so.
        for identity in self.approved_by:
            if email_of(identity) is None:
                raise FatalError(
                    f"--approved-by {identity!r} is not an email address",
                    'write --approved-by name@example.com or --approved-by "Name <name@example.com>"',
                )


def run_review(
    repo: Repository,
    rng: Range,
    *,
    policy_override: str | None = None,
    approvals: ApprovalInput | None = None,
    weigh: bool = True,
) -> Review:
    """Audit the change RNG under the judging policy, then weigh the approvals it carries."""
    judge, base_policy = judging_policy(repo, rng, policy_override)
    changes = repo.diff(rng.base, rng.head)
    policy_changed = any(c.old_path in POLICY_FILES or c.new_path in POLICY_FILES for c in changes)
    relevant = [c for c in changes if _touches_prompt(judge, c)]
    changed_paths = {p for c in changes for p in (c.old_path, c.new_path) if p}
    approval_files = approval_file_findings(judge, base_policy, changed_paths)
    if not relevant and not approval_files and not policy_changed:
        return Review(rng.base or repo.empty_tree, rng.head, judge.source)

    # The audit engine is imported only now: a staged change that touches no prompt (the
    # hook's common case) never pays for it.
    from promptaudit.audit import audit

    file_changes = [_file_change(repo, judge, rng, c) for c in relevant]
    found: list[Finding] = audit(judge, file_changes)
    if policy_changed and policy_override is None:
        found += policy_findings(repo, rng, base_policy)
    found += approval_files
    found = _with_blobs(found, changes)
    found = judge_sets(repo, rng.head, judge, found)
    if weigh and any(f.blocking for f in found):
        from promptaudit.gather import weigh_approvals

        found = weigh_approvals(repo, rng, judge, base_policy, found, approvals or ApprovalInput())
    found.sort(key=Finding.sort_key)
    return Review(rng.base or repo.empty_tree, rng.head, judge.source, tuple(found))


def judge_sets(repo: Repository, rev: str, policy: Policy, found: list[Finding]) -> list[Finding]:
    """Apply `scope = "set"`: read the files of those guardrails at REV, only when needed."""
    wanted = {
        f.guardrail
        for f in found
        if f.kind in ("guardrail-removed", "guardrail-missing")
        and f.guardrail
        and getattr(policy.entry(f.guardrail), "scope", "file") == "set"
    }
    if not wanted:
        return found
    from promptaudit.audit import resolve_sets
    from promptaudit.clauses import clauses_of
    from promptaudit.matching import satisfying

    carriers: dict[str, list[Clause]] = {g: [] for g in wanted}
    for path, (mode, blob) in sorted(repo.list_files(rev).items()):
        rules = [g for g in policy.guardrails if g.id in wanted and g.applies_to(path)]
        if not rules or not policy.is_prompt(path) or mode in (MODE_SYMLINK, MODE_SUBMODULE):
            continue
        from promptaudit.formats import decode

        text = decode(repo.blobs.read(blob) or b"", path, policy.max_prompt_bytes)
        clauses = clauses_of(path, text, policy.prompt_keys)
        for g in rules:
            carriers[g.id] += satisfying(g, clauses)
    return resolve_sets(policy, found, carriers)


def _with_blobs(found: list[Finding], changes: Sequence[Change]) -> list[Finding]:
    """Attach each finding's file blob ids (what a signed approval binds to)."""
    blobs: dict[str, tuple[str | None, str | None]] = {}
    for c in changes:
        for p in (c.old_path, c.new_path):
            if p is not None:
                blobs[p] = (c.old_blob, c.new_blob)
    return [f.with_blobs(*blobs.get(f.path, (None, None))) for f in found]


def approval_file_findings(
    judge: Policy, base_policy: Policy | None, changed: set[str]
) -> list[Finding]:
    """policy-weakened findings for edits to allowed_signers or CODEOWNERS (see policy_diff)."""
    if base_policy is None and not judge.is_default:
        return []  # first adoption: nothing was protected yet
    from promptaudit.codeowners import LOCATIONS
    from promptaudit.policy_diff import approval_config_changes

    if not changed & {*LOCATIONS, *([judge.allowed_signers] if judge.allowed_signers else [])}:
        return []
    return approval_config_changes(judge, changed)


def _touches_prompt(policy: Policy, change: Change) -> bool:
    return any(p is not None and policy.is_prompt(p) for p in (change.old_path, change.new_path))


def _file_change(repo: Repository, policy: Policy, rng: Range, change: Change) -> FileChange:
    from promptaudit.audit import FileChange

    old_text = new_text = None
    if change.old_path and policy.is_prompt(change.old_path):
        old_text = _prompt_text(
            repo, policy, change.old_path, change.old_blob, change.old_mode, rng.base, landed=True
        )
    if change.new_path and policy.is_prompt(change.new_path):
        new_text = _prompt_text(
            repo, policy, change.new_path, change.new_blob, change.new_mode, rng.head
        )
    return FileChange(change.old_path, change.new_path, old_text, new_text)


def _prompt_text(
    repo: Repository,
    policy: Policy,
    path: str,
    blob: str | None,
    mode: str | None,
    rev: str | None,
    *,
    landed: bool = False,
) -> str | None:
    """The text of a prompt file; LANDED for the version the change starts from, which is
    read as well as it can be (see formats.decode): a link or a submodule there held no
    prompt, and the change that replaces it with one adds what it says."""
    if blob is None or (landed and mode in (MODE_SYMLINK, MODE_SUBMODULE)):
        return None
    where = "the index" if rev == INDEX else (rev or "")[:12]
    if mode == MODE_SYMLINK:
        raise PromptError(
            f"{path} at {where} is a symbolic link, not a prompt file",
            "commit the prompt itself, not a link to it",
        )
    if mode == MODE_SUBMODULE:
        raise PromptError(
            f"{path} at {where} is a submodule, not a prompt file",
            "audit the submodule's own repository, or narrow the prompts globs",
        )
    from promptaudit.formats import decode

    data = repo.blobs.read(blob)
    if data is None:
        raise GitError(
            f"cannot read {path} at {where} (object {blob[:12]} is missing)",
            "fetch the missing objects, or run git fsck",
        )
    return decode(data, path, policy.max_prompt_bytes, landed=landed)


def policy_findings(repo: Repository, rng: Range, base_policy: Policy | None) -> list[Finding]:
    from promptaudit.policy_diff import adoption_weakening, policy_weakenings

    try:
        head_policy = _policy_at(repo, rng.head)
    except PolicyError as exc:
        raise PolicyError(f"the changed policy is invalid: {exc.message}", exc.hint) from None
    paths = set(repo.list_files(rng.head))
    if rng.base:
        paths |= set(repo.list_files(rng.base))
    if base_policy is not None:
        return policy_weakenings(base_policy, head_policy, paths)
    # First adoption: HEAD's policy judges, but where the built-in default already covered
    # prompts at BASE, a policy laxer than it drops protection those prompts had.
    base_files = set(repo.list_files(rng.base)) if rng.base else set()
    default = default_policy()
    if head_policy is None or not any(default.is_prompt(p) for p in base_files):
        return []
    return adoption_weakening(default, head_policy, paths)
