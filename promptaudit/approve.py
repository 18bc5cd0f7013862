"""`promptaudit approve`: a reviewer signs an approval of exactly the findings they may approve.

It reviews the change as the gate will, finds the blocking findings this reviewer is allowed
to approve (never their own change), writes a record binding each to its fingerprint and blob
ids, and signs it with the reviewer's SSH key. It writes two files and nothing else: no
commit, no history rewritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re

from promptaudit.errors import FatalError
from promptaudit.git import Repository
from promptaudit.policy import email_of
from promptaudit.review import ApprovalInput, resolve_range, run_review
from promptaudit.signing import make_record, record_name, sign


def parse_expiry(text: str, now: dt.datetime) -> dt.datetime:
    """`30` or `30d` days from now, or the end of a `YYYY-MM-DD` day (UTC); in the future.

    An approval that expires on signing counts for nothing, so a past date (or `0d`) is
    refused rather than written.
    """
    later = f"--expires 30d or --expires {(now + dt.timedelta(days=30)):%Y-%m-%d}"
    m = re.fullmatch(r"(\d+)d?", text.strip())
    if m:
        when = now + dt.timedelta(days=int(m.group(1)))
    else:
        try:
            day = dt.date.fromisoformat(text.strip())
        except ValueError:
            raise FatalError(
                f"--expires {text!r} is neither a number of days nor a date", f"write {later}"
            ) from None
        when = dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=dt.timezone.utc)
    if when <= now:
        raise FatalError(
            f"--expires {text!r} is not in the future: the approval would never count",
            f"give a number of days above 0, or a later date: {later}",
        )
    return when


def approve_change(
    repo_path: str,
    revisions: str | None,
    *,
    base: str | None = None,
    expires: str | None = None,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Write and sign the approval record; returns the lines to show the reviewer."""
    now = now or dt.datetime.now(dt.timezone.utc)
    until = parse_expiry(expires, now) if expires else None
    with Repository(repo_path) as repo:
        if repo.bare:
            raise FatalError("approve needs a working tree", "run it in a clone of the repository")
        identity = repo.config("user.email")
        reviewer = email_of(identity or "")
        if not reviewer:
            raise FatalError(
                "git does not know your email, so the approval cannot name you",
                "git config user.email you@example.com",
            )
        signing_key = key or repo.config("user.signingkey")
        if not signing_key:
            raise FatalError(
                "no SSH signing key to sign the approval with",
                "pass --key ~/.ssh/id_ed25519, or: git config user.signingkey ~/.ssh/id_ed25519",
            )
        key_hint = (
            "check the --key path (an SSH private key, or a public key whose private key is in"
            " ssh-agent)"
            if key
            else "check git config user.signingkey, or pass --key ~/.ssh/id_ed25519"
        )
        signing_key = os.path.expanduser(signing_key.removeprefix("key::"))
        rng = resolve_range(repo, revisions, base=base)
        result = run_review(repo, rng, approvals=ApprovalInput(approved_by=(reviewer,)))
        root = repo.root

    mine = [f for f in result.blocking if any(email_of(a) == reviewer for a in f.approved_by)]
    refused = [f for f in result.blocking if f not in mine]
    lines = []
    for f in refused:
        why = next((n for n in f.approval_notes if "--approved-by" in n), "")
        reason = why.split(": ", 1)[-1] if why else "not yours to approve"
        lines.append(f"skipped {f.path}:{f.line} {f.kind} {f.guardrail or ''}: {reason}")
    if not mine:
        raise FatalError(
            f"nothing for {reviewer} to approve in {rng.describe()}"
            + (f" ({len(refused)} blocking finding(s) need other reviewers)" if refused else ""),
            "check the range, and who may approve: promptaudit review",
        )
    record = make_record(reviewer, mine, now=now, expires=until)
    rel = record_name(record, reviewer)
    signature = sign(record, signing_key, hint=key_hint)
    _write_approval(root, rel, record, signature)
    lines += [f"approved {f.path}:{f.line} {f.kind} {f.guardrail or ''}" for f in mine]
    lines += [
        f"wrote {rel} and {rel}.sig",
        f"commit them with the change: git add {os.path.dirname(rel)} && git commit",
    ]
    return lines


def _write_approval(root: str, rel: str, record: bytes, signature: bytes) -> None:
    """Write the record and its signature, both or neither: a record without its signature
    is an approval that never counts, waiting to be committed by mistake."""
    path = os.path.join(root, rel)
    written: list[str] = []
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        for target, data in ((path, record), (path + ".sig", signature)):
            with open(target, "wb") as fh:
                written.append(target)
                fh.write(data)
    except OSError as exc:
        for target in written:
            with contextlib.suppress(OSError):
                os.remove(target)
        raise FatalError(
            f"cannot write {rel}: {exc.strerror or type(exc).__name__}",
            f"check that {os.path.dirname(rel)} can be written in the working tree",
        ) from None
