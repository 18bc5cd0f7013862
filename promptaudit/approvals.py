"""Who may approve a blocking finding, which approvals were given, and which of them count.

Pure: the caller gathers approvals (trailers, --approved-by, verified signed records) and the
authors of the change; this module decides, finding by finding, and says why an approval did
not count, because a reviewer who approved in vain must be told so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptaudit import findings as k
from promptaudit.policy import email_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from promptaudit.codeowners import CodeOwners
    from promptaudit.findings import Finding
    from promptaudit.policy import Policy
    from promptaudit.signing import Record

TRAILER = "Guardrail-Approved-by"


@dataclass(frozen=True)
class Approval:
    """One approval as found. `record` is set for a signed approval; `problem` when it cannot count."""

    identity: str
    source: str
    record: Record | None = None
    problem: str | None = None
    # A trailer approves the change as it stood at its commit: the fingerprints of the
    # findings then. None: it approves the change as reviewed (CI, the message being written).
    covers: frozenset[str] | None = None

    @property
    def email(self) -> str:
        return email_of(self.identity) or self.identity.strip().lower()


@dataclass(frozen=True)
class Requirement:
    """What approves one finding: COUNT distinct allowed reviewers, one from each of GROUPS.

    `allowed` empty means anyone who is not an author of the change.
    """

    allowed: frozenset[str]
    display: tuple[str, ...]
    groups: tuple[tuple[str, frozenset[str]], ...] = ()
    count: int = 1


@dataclass(frozen=True)
class Decision:
    approved: bool
    approved_by: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def requirement_for(finding: Finding, policy: Policy, owners: CodeOwners | None) -> Requirement:
    """The rule's reviewers; for policy-weakened, those of every entry it weakens."""
    if finding.kind == k.POLICY_WEAKENED and finding.guardrail is None:
        entries = [e for e in (*policy.guardrails, *policy.forbidden) if e.reviewers]
        groups: dict[frozenset[str], str] = {}
        for e in entries:
            members = _emails(policy.expand_reviewers(e.reviewers))
            groups.setdefault(members, ", ".join(e.reviewers))
        if not groups:
            return _fallback(finding, policy, owners)
        names = tuple(
            dict.fromkeys(m for e in entries for m in policy.expand_reviewers(e.reviewers))
        )
        return Requirement(
            allowed=frozenset().union(*groups),
            display=names,
            groups=tuple((label, members) for members, label in groups.items()),
        )
    entry = policy.entry(finding.guardrail) if finding.guardrail else None
    if entry is None or not (entry.reviewers or entry.require_groups):
        base = _fallback(finding, policy, owners)
        if entry is None:
            return base
        return Requirement(base.allowed, base.display, count=entry.approvals)
    named = policy.expand_reviewers(entry.reviewers)
    req_groups = tuple((g, _emails(policy.expand_reviewers((g,)))) for g in entry.require_groups)
    allowed = _emails(named).union(*(m for _, m in req_groups)) if req_groups else _emails(named)
    display = tuple(
        dict.fromkeys((*named, *(x for g in entry.require_groups for x in policy.reviewers[g])))
    )
    if not req_groups:
        req_groups = ((", ".join(entry.reviewers), allowed),)
    return Requirement(allowed=allowed, display=display, groups=req_groups, count=entry.approvals)


def _fallback(finding: Finding, policy: Policy, owners: CodeOwners | None) -> Requirement:
    """No reviewers named: the [reviewers] group `default`, else CODEOWNERS, else anyone else."""
    if "default" in policy.reviewers:
        names = policy.reviewers["default"]
        return Requirement(_emails(names), names, (("default", _emails(names)),))
    if owners is not None:
        names = owners.owners_of(finding.path)
        if names:
            return Requirement(_emails(names), names, (("CODEOWNERS", _emails(names)),))
    return Requirement(frozenset(), ())


def _emails(identities: Iterable[str]) -> frozenset[str]:
    return frozenset(e for e in (email_of(i) for i in identities) if e)


def _named(identities: Iterable[str]) -> dict[str, str]:
    """Email -> `Name <email>` for the reviewers the policy names with a name.

    A signed record knows only an email, a trailer gives `Name <email>`: an approver is shown
    as the policy names them, so one person reads the same whichever way they approved.
    """
    return {e: i.strip() for i in identities if "<" in i and (e := email_of(i))}


def decide(
    finding: Finding,
    requirement: Requirement,
    approvals: Sequence[Approval],
    authors: frozenset[str],
    *,
    now: dt.datetime | None = None,
) -> Decision:
    """Does FINDING have the approvals it needs? Every approval that did not count says why."""
    now = now or dt.datetime.now(dt.timezone.utc)
    named = _named(requirement.display)
    counted: dict[str, str] = {}
    notes: list[str] = []
    label = f"'{finding.guardrail}'" if finding.guardrail else "this change"
    for a in approvals:
        who = a.identity
        if a.record is not None and not a.record.covers(finding):
            # A signed approval of other findings is simply not about this one; say so only
            # when it came from the same reviewer's record set for this file.
            if any(f.get("path") == finding.path for f in a.record.findings):
                notes.append(f"{who} ({a.source}): signed for a different change")
            continue
        if a.problem:
            notes.append(f"{who} ({a.source}): {a.problem}")
            continue
        if a.covers is not None and finding.fingerprint not in a.covers:
            notes.append(
                f"{who} ({a.source}): approved an earlier state; this was changed after it"
            )
            continue
        if a.record is not None and a.record.expired(now):
            notes.append(f"{who} ({a.source}): expired on {a.record.expires}")
            continue
        if a.email in authors:
            notes.append(
                f"{who} ({a.source}): self-approval; the author of a change never approves it"
            )
            continue
        if requirement.allowed and a.email not in requirement.allowed:
            notes.append(f"{who} ({a.source}): not allowed to approve {label}")
            continue
        counted.setdefault(a.email, named.get(a.email) or who)
    groups_ok = all(counted.keys() & members for _, members in requirement.groups)
    missing = [name for name, members in requirement.groups if not counted.keys() & members]
    if counted and missing and len(requirement.groups) > 1:
        notes.append("still needed: one approval from each of " + ", ".join(missing))
    if counted and len(counted) < requirement.count:
        notes.append(f"still needed: {requirement.count} distinct reviewers, {len(counted)} so far")
    approved = groups_ok and len(counted) >= requirement.count
    return Decision(approved, tuple(counted.values()), tuple(dict.fromkeys(notes)))
