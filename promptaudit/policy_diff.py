"""The audit of a policy change: what the new policy would let through that the old one stopped.

A change cannot relax the rules that judge it (BASE's policy judges), but the relaxation
itself must be approved before it lands, or the next change would pass unreviewed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptaudit import findings as k
from promptaudit.findings import SEVERITIES, Finding
from promptaudit.policy import Forbidden, Guardrail, Policy, email_of, line_of_key
from promptaudit.text import normalize

if TYPE_CHECKING:
    from collections.abc import Iterable


def _emails(policy: Policy, names: tuple[str, ...]) -> set[str]:
    return {email_of(m) or m for m in policy.expand_reviewers(names)}


def policy_weakenings(base: Policy, head: Policy | None, paths: Iterable[str]) -> list[Finding]:
    """Blocking `policy-weakened` findings for every way HEAD's policy is laxer than BASE's."""
    entries = (*base.guardrails, *base.forbidden)
    top = max((e.severity for e in entries), key=SEVERITIES.index, default="high")
    everyone = tuple(dict.fromkeys(r for e in entries for r in e.reviewers))
    base_path = base.path or "promptaudit.toml"
    out: list[Finding] = []

    def add(
        entry_id: str | None,
        severity: str,
        line: int,
        message: str,
        reviewers: tuple[str, ...],
        before: str | None = None,
        after: str | None = None,
        path: str | None = None,
    ) -> None:
        blocking = base.blocks(severity)
        out.append(
            Finding(
                kind=k.POLICY_WEAKENED,
                guardrail=entry_id,
                severity=severity,
                path=path or (head.path if head and head.path else base_path),
                line=line,
                before=before,
                after=after,
                blocking=blocking,
                message=message,
                required_reviewers=base.expand_reviewers(reviewers) if blocking else (),
            )
        )

    if head is None:
        add(None, top, 1, f"the policy file {base_path} was deleted.", everyone, path=base_path)
        return out

    def line(key: str, value: str | None = None) -> int:
        return line_of_key(head.text, key, value) or 1

    if SEVERITIES.index(head.block_at) > SEVERITIES.index(base.block_at):
        raised = f"block_at was raised from '{base.block_at}' to '{head.block_at}'."
        add(None, top, line("block_at"), raised, everyone, base.block_at, head.block_at)
    if base.matching != head.matching:
        add(None, top, line("matching"), f"matching changed from '{base.matching}' to '{head.matching}'.",
            everyone, base.matching, head.matching)  # fmt: skip
    if base.strict and not head.strict:
        add(None, top, line("strict"), "strict was turned off.", everyone, "true", "false")
    dropped_keys = set(base.prompt_keys) - set(head.prompt_keys)
    if dropped_keys:
        add(
            None,
            top,
            line("prompt_keys"),
            f"prompt_keys no longer include {sorted(dropped_keys)}.",
            everyone,
        )
    all_paths = sorted(set(paths))
    lost = [p for p in all_paths if base.is_prompt(p) and not head.is_prompt(p)]
    if lost:
        out_of_scope = f"prompts no longer cover {_list(lost)}, so they would not be audited."
        add(None, top, line("prompts"), out_of_scope, everyone)

    for old in entries:
        new = head.entry(old.id)
        what = "guardrail" if isinstance(old, Guardrail) else "forbidden entry"
        if new is None or type(new) is not type(old):
            # The entry is gone from HEAD: locate it where it was (BASE), or at HEAD's
            # `disable` when that is what dropped a built-in entry.
            if old.id in head.disable:
                where, at_path = line("disable"), None
            else:
                where, at_path = base.line_of(old.id), base_path
            removed = f"{what} '{old.id}' was removed from the policy."
            before = old.description or old.id
            add(old.id, old.severity, where, removed, old.reviewers, before, path=at_path)
            continue
        at = line("id", old.id)
        reasons = _entry_weakenings(base, head, old, new, all_paths)
        for reason in reasons:
            add(old.id, old.severity, at, f"{what} '{old.id}': {reason}.", old.reviewers)
    return out


def _entry_weakenings(
    base: Policy,
    head: Policy,
    old: Guardrail | Forbidden,
    new: Guardrail | Forbidden,
    paths: list[str],
) -> list[str]:
    reasons = []
    lost_phrases = [p for p in old.phrases if normalize(p) not in new.norm_phrases]
    if lost_phrases:
        reasons.append(f"phrases removed: {_list(lost_phrases)}")
    lost_patterns = [p for p in old.patterns if p not in new.patterns]
    if lost_patterns:
        reasons.append(f"patterns removed: {_list(lost_patterns)}")
    if SEVERITIES.index(new.severity) < SEVERITIES.index(old.severity):
        reasons.append(f"severity lowered from '{old.severity}' to '{new.severity}'")
    if isinstance(old, Guardrail) and isinstance(new, Guardrail):
        if old.required and not new.required:
            reasons.append("no longer required")
        if new.directive and not old.directive:
            reasons.append("now matches only directive clauses")
        if old.scope == "file" and new.scope == "set":
            reasons.append("any file of its paths now satisfies it for all (scope = set)")
    narrowed = [
        p for p in paths if base.is_prompt(p) and old.applies_to(p) and not new.applies_to(p)
    ]
    if narrowed:
        reasons.append(f"paths no longer cover {_list(narrowed)}")
    before, after = _emails(base, old.reviewers), _emails(head, new.reviewers)
    if before != after:
        changes = []
        if after - before:
            changes.append(f"added {_list(sorted(after - before))}")
        if before - after:
            changes.append(f"removed {_list(sorted(before - after))}")
        reasons.append("who may approve changed (" + "; ".join(changes) + ")")
    return reasons


def _list(items: list[str], most: int = 5) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def approval_config_changes(policy: Policy, changed: Iterable[str]) -> list[Finding]:
    """Edits to the files that decide whose approvals count, outside the policy file itself.

    The allowed-signers file and CODEOWNERS are read at BASE, so an edit cannot approve the
    change that makes it; but it would decide who approves every change after it. Landing
    "alice@example.com <my key>" must need the same approval as weakening the policy.
    """
    from promptaudit.codeowners import LOCATIONS

    watched = {}
    if policy.allowed_signers:
        watched[policy.allowed_signers] = "it decides whose signatures count as approvals"
    uses_codeowners = policy.is_default or any(
        not (e.reviewers or e.require_groups) for e in (*policy.guardrails, *policy.forbidden)
    )
    if uses_codeowners and "default" not in policy.reviewers:
        for location in LOCATIONS:
            watched[location] = "its owners approve guardrail changes under this policy"
    entries = (*policy.guardrails, *policy.forbidden)
    top = max((e.severity for e in entries), key=SEVERITIES.index, default="high")
    everyone = tuple(dict.fromkeys(r for e in entries for r in e.reviewers))
    out = []
    for path in sorted(set(changed) & watched.keys()):
        blocking = policy.blocks(top)
        out.append(
            Finding(
                kind=k.POLICY_WEAKENED,
                guardrail=None,
                severity=top,
                path=path,
                line=1,
                before=None,
                after=None,
                blocking=blocking,
                message=f"who may approve changed: {path} was edited, and {watched[path]}.",
                required_reviewers=policy.expand_reviewers(everyone) if blocking else (),
            )
        )
    return out


def adoption_weakening(default: Policy, head: Policy, paths: Iterable[str]) -> list[Finding]:
    """One finding for a first policy laxer than the built-in default that protected BASE.

    Adopting a policy is not a series of edits, so the differences are summed up in a single
    blocking finding rather than one per built-in entry.
    """
    found = policy_weakenings(default, head, paths)
    if not found:
        return []
    dropped = sorted({f.guardrail for f in found if f.guardrail})
    other = [f.message for f in found if f.guardrail is None]
    parts = []
    if dropped:
        parts.append(f"it drops or narrows the built-in entries {_list(dropped, 6)}")
    parts += [m.rstrip(".") for m in other]
    top = max((f.severity for f in found), key=SEVERITIES.index)
    blocking = default.blocks(top)
    return [
        Finding(
            kind=k.POLICY_WEAKENED,
            guardrail=None,
            severity=top,
            path=head.path or "promptaudit.toml",
            line=1,
            before=None,
            after=None,
            blocking=blocking,
            message="the first policy is laxer than the built-in default that protected the "
            "prompts before it: " + "; ".join(parts) + ". " + _adoption_fix(head, found),
        )
    ]


def _adoption_fix(head: Policy, found: list[Finding]) -> str:
    """What keeps the built-in protection; `extends` only helps a policy that lacks it."""
    if head.extends != "default":
        return 'Add extends = "default" to keep them.'
    fixes = []
    if any(f.guardrail for f in found):
        fixes.append("leave the built-in entries out of disable and do not narrow them")
    if any(f.message.startswith("prompts no longer cover") for f in found):
        fixes.append("keep the built-in globs in prompts (promptaudit policy --default)")
    if any(f.guardrail is None and not f.message.startswith("prompts ") for f in found):
        fixes.append("keep the built-in settings named above")
    return "To keep them, " + "; ".join(fixes) + "."
