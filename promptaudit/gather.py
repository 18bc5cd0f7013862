"""Gather the approvals a reviewed change carries and decide each blocking finding with them.

Sources: `Guardrail-Approved-by` trailers of the range's commits (git's own trailer parse),
the commit message being written (`--message-file`), `--approved-by` from CI, and signed
approval records under `.promptaudit/approvals/` verified against the allowed-signers file
committed at BASE, so a change cannot add its author's own key.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from promptaudit.approvals import TRAILER, Approval, decide, requirement_for
from promptaudit.codeowners import LOCATIONS, CodeOwners, parse_codeowners
from promptaudit.errors import FatalError
from promptaudit.git import INDEX
from promptaudit.policy import RESERVED_PREFIX
from promptaudit.signing import APPROVALS_DIR, parse_record, verify

if TYPE_CHECKING:
    from promptaudit.findings import Finding
    from promptaudit.git import Repository
    from promptaudit.policy import Policy
    from promptaudit.review import ApprovalInput, Range


def weigh_approvals(
    repo: Repository,
    rng: Range,
    judge: Policy,
    base_policy: Policy | None,
    found: list[Finding],
    given: ApprovalInput,
) -> list[Finding]:
    signers = _read(repo, rng.base, judge.allowed_signers) if judge.allowed_signers else None
    if signers is None:
        approvals, authors = _collect(repo, rng, judge, given, None)
    else:
        # ssh-keygen reads the signers from a file: BASE's, written where nobody can swap it.
        with tempfile.TemporaryDirectory(prefix="promptaudit-") as tmp:
            signers_file = os.path.join(tmp, "allowed_signers")
            with open(signers_file, "wb") as fh:
                fh.write(signers)
            approvals, authors = _collect(repo, rng, judge, given, signers_file)
    approvals += _signed_records(repo, rng, judge, signers)
    owners = _codeowners(repo, rng.base)
    out = []
    for f in found:
        if not f.blocking:
            out.append(f)
            continue
        req = requirement_for(f, judge, owners)
        d = decide(f, req, approvals, authors)
        out.append(f.with_approvals(d.approved, d.approved_by, d.notes).with_reviewers(req.display))
    return out


def _read(repo: Repository, rev: str | None, path: str) -> bytes | None:
    if rev is None:
        return None
    return repo.blobs.read(f":{path}" if rev == INDEX else f"{rev}:{path}")


def _collect(
    repo: Repository, rng: Range, judge: Policy, given: ApprovalInput, signers_file: str | None
) -> tuple[list[Approval], frozenset[str]]:
    approvals: list[Approval] = []
    authors: set[str] = set()
    if rng.head == INDEX:
        me = repo.author_email()
        if me:
            authors.add(me)
    else:
        commits = given.commits
        if commits is None:
            commits = tuple(repo.range_commits(rng.base, rng.head, TRAILER))
        for c in commits:
            # An approval-only commit (nothing but approval records, or empty) does not make
            # its author an author of the change.
            if any(not p.startswith(RESERVED_PREFIX) for p in c.paths):
                authors.add(c.author_email)
            covers = None
            if c.trailers and c.sha != rng.head:
                covers = _fingerprints_at(repo, rng, c.sha)
            for value in c.trailers:
                problem = None
                if judge.require_signed:
                    problem = _signature_problem(repo, c.sha, value, signers_file)
                approvals.append(
                    Approval(value, f"trailer in {c.sha[:12]}", problem=problem, covers=covers)
                )
    if given.message_file:
        try:
            with open(given.message_file, "rb") as fh:
                message = fh.read()
        except OSError as exc:
            raise FatalError(
                f"cannot read the commit message {given.message_file}: {exc.strerror}",
                "pass the commit-msg hook's $1 as --message-file",
            ) from None
        for value in repo.message_trailers(message, TRAILER):
            problem = (
                "an unsigned commit message does not count (require_signed)"
                if judge.require_signed
                else None
            )
            approvals.append(Approval(value, "commit message", problem=problem))
    for email in given.approved_by:
        approvals.append(Approval(email, "--approved-by"))
    return approvals, frozenset(authors)


def _fingerprints_at(repo: Repository, rng: Range, sha: str) -> frozenset[str]:
    """What the change looked like at SHA: a trailer there approves that much, no more."""
    from promptaudit.review import Range as _Range
    from promptaudit.review import run_review

    review = run_review(repo, _Range(rng.base, sha), weigh=False)
    return frozenset(f.fingerprint for f in review.findings)


def _signature_problem(
    repo: Repository, sha: str, approver: str, signers_file: str | None
) -> str | None:
    from promptaudit.policy import email_of

    if signers_file is None:
        return "require_signed needs allowed_signers committed at BASE"
    signer = repo.commit_signer(sha, signers_file)
    if signer is None:
        return f"commit {sha[:12]} has no good signature (require_signed)"
    if (email_of(signer) or signer.lower()) != (email_of(approver) or approver.lower()):
        return f"commit {sha[:12]} is signed by {signer}, not by the approver"
    return None


def _signed_records(
    repo: Repository, rng: Range, judge: Policy, signers: bytes | None
) -> list[Approval]:
    if rng.head != INDEX and repo.blobs.kind(f"{rng.head}:{APPROVALS_DIR}") is None:
        return []  # no approval records at all: spares listing every file of the commit
    files = repo.list_files(rng.head)
    out = []
    for path in sorted(files):
        if not (path.startswith(APPROVALS_DIR + "/") and path.endswith(".json")):
            continue
        data = repo.blobs.read(files[path][1]) or b""
        record = parse_record(data)
        if record is None:
            out.append(Approval("?", path, problem="not a valid approval record"))
            continue
        sig = files.get(path + ".sig")
        problem = None
        if signers is None:
            problem = "signed approvals need allowed_signers in the policy at BASE"
        elif sig is None:
            problem = f"no signature ({path}.sig is missing)"
        elif not verify(data, repo.blobs.read(sig[1]) or b"", signers, record.reviewer):
            problem = "bad signature (not made by the reviewer's key in allowed_signers at BASE)"
        out.append(Approval(record.reviewer, path, record=record, problem=problem))
    return out


def _codeowners(repo: Repository, rev: str | None) -> CodeOwners | None:
    if rev is None:
        return None
    at = ":" if rev == INDEX else f"{rev}:"
    data = repo.blobs.read_first([at + location for location in LOCATIONS])
    return parse_codeowners(data.decode("utf-8", "replace")) if data is not None else None
