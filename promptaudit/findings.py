"""The records an audit produces: immutable findings and the result of one review."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")

GUARDRAIL_REMOVED = "guardrail-removed"
GUARDRAIL_WEAKENED = "guardrail-weakened"
GUARDRAIL_MODIFIED = "guardrail-modified"
GUARDRAIL_ADDED = "guardrail-added"
GUARDRAIL_MOVED = "guardrail-moved"
FORBIDDEN_ADDED = "forbidden-added"
UNLISTED_GUARDRAIL_REMOVED = "unlisted-guardrail-removed"
POLICY_WEAKENED = "policy-weakened"
GUARDRAIL_MISSING = "guardrail-missing"

KINDS = (
    GUARDRAIL_REMOVED,
    GUARDRAIL_WEAKENED,
    GUARDRAIL_MODIFIED,
    GUARDRAIL_ADDED,
    GUARDRAIL_MOVED,
    FORBIDDEN_ADDED,
    UNLISTED_GUARDRAIL_REMOVED,
    POLICY_WEAKENED,
    GUARDRAIL_MISSING,
)


def severity_rank(severity: str) -> int:
    """Order severities so that `block_at` can be compared against them."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer must look at.

    `line` is the line at HEAD, or at BASE when the clause is gone. `blocking` is
    already decided against the judging policy's `block_at` and `strict`.
    """

    kind: str
    guardrail: str | None
    severity: str
    path: str
    line: int
    before: str | None
    after: str | None
    blocking: bool
    message: str
    required_reviewers: tuple[str, ...] = ()
    approved_by: tuple[str, ...] = ()
    # Where a code host can anchor the finding when the clause itself is gone.
    anchor_line: int | None = None
    # The file's blob ids before and after: what a signed approval binds to.
    old_blob: str | None = None
    new_blob: str | None = None
    # Decided by the approvals: enough allowed reviewers approved this very change.
    approved: bool = False
    # Why approvals that were found did not count (self-approval, not allowed, ...).
    approval_notes: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Identity of the finding without line numbers, so it survives rebases and re-wraps."""
        parts = (self.kind, self.guardrail or "", self.path, self.before or "", self.after or "")
        import hashlib  # only when a finding is fingerprinted, never on a clean hook run

        data = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).hexdigest()[:16]

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.kind, self.guardrail or "")

    def with_approvals(
        self, approved: bool, approved_by: tuple[str, ...], notes: tuple[str, ...]
    ) -> Finding:
        return replace(self, approved=approved, approved_by=approved_by, approval_notes=notes)

    def with_reviewers(self, reviewers: tuple[str, ...]) -> Finding:
        return replace(self, required_reviewers=reviewers)

    def with_blobs(self, old_blob: str | None, new_blob: str | None) -> Finding:
        return replace(self, old_blob=old_blob, new_blob=new_blob)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape of a finding."""
        return {
            "kind": self.kind,
            "guardrail": self.guardrail,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "before": self.before,
            "after": self.after,
            "blocking": self.blocking,
            "approved": self.approved,
            "approved_by": list(self.approved_by),
            "required_reviewers": list(self.required_reviewers),
            "message": self.message,
            "approval_notes": list(self.approval_notes),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class Review:
    """The outcome of auditing one change: what judged it and what was found."""

    base: str
    head: str
    policy_source: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def blocked(self) -> bool:
        """Blocked while any blocking finding lacks the approvals it needs."""
        return any(f.blocking and not f.approved for f in self.findings)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "policy": self.policy_source,
            "blocked": self.blocked,
            "findings": [f.to_dict() for f in self.findings],
        }
