"""The audit: a policy and the two versions of each changed file in, findings out.

Pure: no git, no printing. The caller says which files changed (with renames paired) and
hands over their texts; this module decides scope, reads clauses, and compares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from promptaudit import findings as k
from promptaudit.clauses import ITEM, Clause, clauses_of
from promptaudit.findings import Finding
from promptaudit.matching import (
    best_successor,
    describes_attacks,
    grants_exception,
    lost_force,
    matched_span,
    permits_access,
    reads_like_safety_rule,
    satisfying,
    trips,
)
from promptaudit.policy import Guardrail
from promptaudit.relevance import screened
from promptaudit.similarity import aligner_for, keeps_topic
from promptaudit.structure import structural_changes
from promptaudit.text import normalize

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from promptaudit.policy import Policy


@dataclass(frozen=True)
class FileChange:
    """One file's two versions. A text is None where the file is absent or out of scope."""

    old_path: str | None
    new_path: str | None
    old_text: str | None
    new_text: str | None


@dataclass
class _Side:
    path: str | None
    clauses: list[Clause] = field(default_factory=list)
    present: bool = False  # the file exists on this side and is a prompt there
    text: str = ""
    # What the model is sent: the clauses, plus those inside HTML comments (see extract).
    shown: list[Clause] = field(default_factory=list)


def _side(
    policy: Policy,
    path: str | None,
    text: str | None,
    parse: Callable[[str, str], list[Clause]],
    *,
    landed: bool = False,
) -> _Side:
    if path is None or text is None or not policy.is_prompt(path):
        return _Side(path)
    clauses = parse(path, text)
    shown = clauses
    if "<!--" in text:
        keys = policy.prompt_keys
        shown = clauses_of(path, text, keys, keep_html_comments=True, landed=landed)
    return _Side(path, clauses, True, text, shown)


def default_parser(policy: Policy, *, landed: bool = False) -> Callable[[str, str], list[Clause]]:
    """Clauses of a file's text; LANDED for the version a change starts from (see extract)."""

    def parse(path: str, text: str) -> list[Clause]:
        return clauses_of(path, text, policy.prompt_keys, landed=landed)

    return parse


def audit(
    policy: Policy,
    changes: Sequence[FileChange],
    *,
    parse: Callable[[str, str], list[Clause]] | None = None,
    reviewers_for: Callable[[str, Sequence[str]], tuple[str, ...]] | None = None,
) -> list[Finding]:
    """Findings for every changed file, sorted by (path, line, kind)."""
    parser = parse or default_parser(policy)
    old_parser = parse or default_parser(policy, landed=True)
    out: list[Finding] = []
    for change in pair_moves(policy, changes, parser, old_parser):
        old = _side(policy, change.old_path, change.old_text, old_parser, landed=True)
        new = _side(policy, change.new_path, change.new_text, parser)
        if not old.present and not new.present:
            continue
        ctx = _FileAudit(policy, old, new, reviewers_for)
        out.extend(ctx.run())
    return sorted(out, key=Finding.sort_key)


def pair_moves(
    policy: Policy,
    changes: Sequence[FileChange],
    parse: Callable[[str, str], list[Clause]],
    parse_old: Callable[[str, str], list[Clause]] | None = None,
) -> list[FileChange]:
    """Pair a deleted prompt with an added one that carries mostly the same clauses.

    git pairs renames by similar lines (50%), so a prompt moved and re-wrapped in one commit
    reaches us as a deletion and an addition; compared clause by clause it is one file.
    """
    gone = [c for c in changes if c.new_path is None and c.old_text is not None]
    came = [c for c in changes if c.old_path is None and c.new_text is not None]
    if not gone or not came:
        return list(changes)
    pairs: list[tuple[float, int, int]] = []
    came_norms = [{x.norm for x in parse(c.new_path or "", c.new_text or "")} for c in came]
    for i, g in enumerate(gone):
        old = {x.norm for x in (parse_old or parse)(g.old_path or "", g.old_text or "")}
        for j, new in enumerate(came_norms):
            if old and new:
                score = len(old & new) / len(old | new)
                if score >= _MOVE_SIMILARITY:
                    pairs.append((score, i, j))
    used_g: set[int] = set()
    used_c: set[int] = set()
    merged: list[FileChange] = []
    for _, i, j in sorted(pairs, reverse=True):
        if i in used_g or j in used_c:
            continue
        used_g.add(i)
        used_c.add(j)
        merged.append(
            FileChange(gone[i].old_path, came[j].new_path, gone[i].old_text, came[j].new_text)
        )
    rest = [
        c
        for c in changes
        if not any(c is gone[i] for i in used_g) and not any(c is came[j] for j in used_c)
    ]
    return rest + merged


_MOVE_SIMILARITY = 0.5
# How alike a clause and its successor must be to count as the same rule reworded.
_REWORDED = 0.5


class _FileAudit:
    def __init__(
        self,
        policy: Policy,
        old: _Side,
        new: _Side,
        reviewers_for: Callable[[str, Sequence[str]], tuple[str, ...]] | None,
    ) -> None:
        self.policy = policy
        self.old = old
        self.new = new
        self._reviewers_for = reviewers_for
        self.aligner = aligner_for(policy.matching)
        self.findings: list[Finding] = []
        # The clauses any rule can match: the per-rule loops below look at these only.
        self.old_matchable = screened(policy, old.clauses)
        self.new_matchable = screened(policy, new.clauses)

    # -- helpers -------------------------------------------------------------------------

    def reviewers(self, names: Sequence[str], path: str) -> tuple[str, ...]:
        if self._reviewers_for is not None:
            return self._reviewers_for(path, names)
        return self.policy.expand_reviewers(tuple(names))

    def add(
        self,
        kind: str,
        rule_id: str | None,
        severity: str,
        path: str,
        line: int,
        before: Clause | None,
        after: Clause | None,
        message: str,
        reviewers: Sequence[str] = (),
        *,
        blocking: bool | None = None,
        anchor: int | None = None,
    ) -> None:
        if blocking is None:
            blocking = kind in BLOCKING_KINDS and self.policy.blocks(severity)
        self.findings.append(
            Finding(
                kind=kind,
                guardrail=rule_id,
                severity=severity,
                path=path,
                line=line,
                before=before.said if before else None,
                after=after.said if after else None,
                blocking=blocking,
                message=message,
                required_reviewers=self.reviewers(reviewers, path) if blocking else (),
                anchor_line=anchor,
            )
        )

    def anchor_for(self, removed: Clause) -> int | None:
        """The line at HEAD of the nearest surviving clause before REMOVED, for annotations."""
        if not self.new.present:
            return None
        head_lines = {c.norm: c.line for c in self.new.clauses}
        best = 1
        for c in self.old.clauses:
            if c.line > removed.line:
                break
            if c.norm in head_lines:
                best = head_lines[c.norm]
        return best

    def gone(self, clauses: Sequence[Clause]) -> list[Clause]:
        """Clauses whose text is no longer anywhere in the file (re-ordering is no change)."""
        return unmatched(self.new.clauses, clauses)

    def fresh(self, clauses: Sequence[Clause]) -> list[Clause]:
        """Clauses whose text was nowhere in the file before."""
        return unmatched(self.old.clauses, clauses)

    # -- the checks ----------------------------------------------------------------------

    def run(self) -> list[Finding]:
        for g in self.policy.guardrails:
            self.check_guardrail(g)
        self.check_forbidden()
        self.check_unlisted()
        return self.findings

    def check_guardrail(self, g: Guardrail) -> None:
        old_applies = self.old.present and g.applies_to(self.old.path or "")
        new_applies = self.new.present and g.applies_to(self.new.path or "")
        before = satisfying(g, self.old_matchable) if old_applies else []
        after = satisfying(g, self.new_matchable) if new_applies else []
        new_path = self.new.path or ""
        reworded = self.reworded(g, before) if before and not after and new_applies else []
        if reworded:
            after = reworded
        elif before and not after:
            self.removed(g, before[0], new_applies)
        elif before and after:
            self.compare(g, before, after)
        elif after and not before:
            self.add(
                k.GUARDRAIL_ADDED,
                g.id,
                g.severity,
                new_path,
                after[0].line,
                None,
                after[0],
                f"{new_path} now carries guardrail '{g.id}'.",
            )
        if g.required and new_applies and not after and not (before and not after):
            was_missing = old_applies and not before
            self.add(
                k.GUARDRAIL_MISSING,
                g.id,
                g.severity,
                new_path,
                1,
                None,
                None,
                f"required guardrail '{g.id}' is not in {new_path}"
                + (" (it was already missing before this change)." if was_missing else ".")
                + (f" {g.description}" if g.description else ""),
                g.reviewers,
                blocking=False if was_missing else None,
            )
        if before and after:
            self.exceptions_added(g, before, after)

    def reworded(self, g: Guardrail, before: list[Clause]) -> list[Clause]:
        """Successors of the guardrail's clauses that no phrase or pattern matches any more.

        A paraphrase keeps the rule; the policy just no longer recognises it. Such a
        successor is aligned by similarity and must keep the rule's topic words; whether it
        kept the rule's force is then judged like any rewording.
        """
        candidates = self.fresh(self.new.clauses)
        found: list[Clause] = []
        for old_clause in self.gone(before):
            succ = best_successor(old_clause, candidates, threshold=_REWORDED, score=self.aligner)
            if succ is None or not keeps_topic(matched_span(g, old_clause), succ.norm):
                continue
            candidates.remove(succ)
            found.append(succ)
            reason = lost_force(old_clause.norm, succ.norm)
            if reason:
                self.add(
                    k.GUARDRAIL_WEAKENED, g.id, g.severity, self.new.path or "", succ.line,
                    old_clause, succ, f"guardrail '{g.id}' was weakened: {reason}.", g.reviewers,
                )  # fmt: skip
            else:
                self.add(
                    k.GUARDRAIL_MODIFIED, g.id, g.severity, self.new.path or "", succ.line,
                    old_clause, succ,
                    f"the clause carrying guardrail '{g.id}' was reworded; no phrase or pattern "
                    f"of the guardrail matches line {succ.line} any more, so add one to the "
                    "policy to keep it recognised.",
                )  # fmt: skip
        return found

    def removed(self, g: Guardrail, clause: Clause, new_applies: bool) -> None:
        old_path = self.old.path or ""
        if self.new.path is None:
            why = f"{old_path} was deleted"
        elif not self.new.present:
            why = f"{old_path} was renamed to {self.new.path}, which is not a prompt file under the policy"
        elif not new_applies:
            why = f"{old_path} was renamed to {self.new.path}, outside the guardrail's paths"
        else:
            why = f"no clause of {self.new.path} carries it any more"
            changed = structural_changes(old_path, self.old.text, self.new.path, self.new.text)
            if changed:
                why += " (" + "; ".join(changed) + ")"
        self.add(
            k.GUARDRAIL_REMOVED,
            g.id,
            g.severity,
            old_path,
            clause.line,
            clause,
            None,
            f"guardrail '{g.id}' was removed: {why}.",
            g.reviewers,
            anchor=self.anchor_for(clause),
        )

    def compare(self, g: Guardrail, before: list[Clause], after: list[Clause]) -> None:
        gone = self.gone(before)
        if not gone:
            return
        new = self.fresh(after)
        fresh_after = list(new)
        path = self.new.path or ""
        for old_clause in gone:
            succ = best_successor(old_clause, new, score=self.aligner)
            if succ is not None:
                new.remove(succ)
                reason = lost_force(old_clause.norm, succ.norm)
                if reason:
                    self.add(
                        k.GUARDRAIL_WEAKENED,
                        g.id,
                        g.severity,
                        path,
                        succ.line,
                        old_clause,
                        succ,
                        f"guardrail '{g.id}' was weakened: {reason}.",
                        g.reviewers,
                    )
                else:
                    self.add(
                        k.GUARDRAIL_MODIFIED,
                        g.id,
                        g.severity,
                        path,
                        succ.line,
                        old_clause,
                        succ,
                        f"the clause carrying guardrail '{g.id}' was reworded without losing force.",
                    )
                continue
            # Dropped outright while other clauses still carry the guardrail: it is weaker
            # only if what is left no longer says it with the same force.
            remaining = [c for c in after if c not in fresh_after] + new
            strongest = next(
                (c for c in remaining if lost_force(old_clause.norm, c.norm) is None), None
            )
            if strongest is None:
                rest = remaining[0] if remaining else after[0]
                self.add(
                    k.GUARDRAIL_WEAKENED,
                    g.id,
                    g.severity,
                    path,
                    rest.line,
                    old_clause,
                    rest,
                    f"guardrail '{g.id}' was weakened: its strongest clause was removed and "
                    f"line {rest.line} says it with less force.",
                    g.reviewers,
                )
            else:
                self.add(
                    k.GUARDRAIL_MODIFIED,
                    g.id,
                    g.severity,
                    path,
                    strongest.line,
                    old_clause,
                    strongest,
                    f"one clause carrying guardrail '{g.id}' was removed; line {strongest.line} still carries it.",
                )

    def exceptions_added(self, g: Guardrail, before: list[Clause], after: list[Clause]) -> None:
        """A new clause elsewhere on the guardrail's topic that grants leave from it."""
        loose = self.fresh(satisfying(g, self.new_matchable, loose=True))
        claimed = {f.after for f in self.findings if f.guardrail == g.id}
        path = self.new.path or ""
        rule_norms = [b.norm for b in before]
        spans = [matched_span(g, b) for b in before]
        # A permission to see what the rule protects ("admins can view the system prompt") is
        # judged too, though the guardrail's patterns, written for rules, do not match it.
        on_topic = {id(c) for c in loose}
        access = [
            c
            for c in self.fresh(self.new.clauses)
            if id(c) not in on_topic and permits_access(c.norm, spans)
        ]
        if access:
            loose = sorted(loose + access, key=lambda c: c.line)
        for c in loose:
            if c.text.endswith(":"):
                continue  # a lead-in says nothing alone: its list items are judged with it
            if c.said in claimed or not grants_exception(c.norm, rule_norms, spans):
                continue
            self.add(
                k.GUARDRAIL_WEAKENED,
                g.id,
                g.severity,
                path,
                c.line,
                after[0],
                c,
                f"guardrail '{g.id}' was weakened: a new clause grants an exception to it.",
                g.reviewers,
            )

    def check_forbidden(self) -> None:
        if not self.new.present:
            return
        new_path = self.new.path or ""
        # Only what may trip an entry: the screen passes every clause that trips one.
        fresh = screened(self.policy, unmatched(self.old.shown, self.new.shown))
        gone = screened(self.policy, unmatched(self.new.shown, self.old.shown))
        old_shown = screened(self.policy, self.old.shown)
        for entry in self.policy.forbidden:
            if not entry.applies_to(new_path):
                continue
            old_hits = Counter(c.norm for c in old_shown if trips(entry, c))
            # An instruction already in force and reworded is not a new one.
            reworded = [c for c in gone if trips(entry, c)]
            for c in fresh:
                if not trips(entry, c) or _reported(c):
                    continue
                if old_hits[c.norm] > 0:
                    old_hits[c.norm] -= 1
                    continue
                predecessor = best_successor(c, reworded, threshold=0.3, score=self.aligner)
                if predecessor is not None:
                    reworded.remove(predecessor)
                    continue
                self.add(
                    k.FORBIDDEN_ADDED,
                    entry.id,
                    entry.severity,
                    new_path,
                    c.line,
                    None,
                    c,
                    f"forbidden instruction '{entry.id}' was added"
                    + (f": {entry.description}" if entry.description else "."),
                    entry.reviewers,
                )

    def check_unlisted(self) -> None:
        if not self.old.present:
            return
        gone = self.gone(self.old.clauses)
        if not gone:
            return
        new = self.fresh(self.new.clauses) if self.new.present else []
        for c in gone:
            if not reads_like_safety_rule(c.norm):
                continue
            if any(
                satisfying(g, [c], loose=True)
                for g in self.policy.guardrails
                if g.applies_to(self.old.path or "")
            ):
                continue
            succ = best_successor(c, new, threshold=0.5, score=self.aligner)
            if succ is not None and lost_force(c.norm, succ.norm) is None:
                continue
            where = f"{self.new.path}" if self.new.present else "the file"
            self.add(
                k.UNLISTED_GUARDRAIL_REMOVED,
                None,
                "medium",
                self.old.path or "",
                c.line,
                c,
                succ,
                f"a clause that reads like a safety rule left {where}, and no guardrail covers it; "
                "add a [[guardrail]] for it to the policy if it must stay.",
                blocking=self.policy.strict,
                anchor=self.anchor_for(c),
            )


def resolve_sets(
    policy: Policy, findings: Sequence[Finding], carriers: dict[str, list[Clause]]
) -> list[Finding]:
    """Judge `scope = "set"` guardrails by the whole set of files at HEAD.

    Such a guardrail is kept while any file of its paths carries it, so a safety section moved
    into a shared file is `guardrail-moved`, not a removal (and weakened if the clause that
    now carries it says less); a required one is not missing from a file the set covers.
    """
    out: list[Finding] = []
    for f in findings:
        g = policy.entry(f.guardrail) if f.guardrail else None
        scoped = isinstance(g, Guardrail) and g.scope == "set"
        held = carriers.get(f.guardrail or "", []) if scoped else []
        if not held or f.kind not in (k.GUARDRAIL_REMOVED, k.GUARDRAIL_MISSING):
            out.append(f)
            continue
        if f.kind == k.GUARDRAIL_MISSING:
            continue
        assert g is not None
        before = Clause(f.path, f.line, f.before or "")
        kept = next((c for c in held if lost_force(before.norm, c.norm) is None), None)
        if kept is not None:
            out.append(
                Finding(
                    kind=k.GUARDRAIL_MOVED, guardrail=g.id, severity=g.severity, path=kept.path,
                    line=kept.line, before=f.before, after=kept.said, blocking=False,
                    message=f"guardrail '{g.id}' moved from {f.path}:{f.line} to "
                    f"{kept.path}:{kept.line}; the set of files still carries it.",
                    old_blob=f.old_blob, new_blob=f.new_blob,
                )
            )  # fmt: skip
            continue
        weaker = held[0]
        reason = lost_force(before.norm, weaker.norm) or "it says less"
        out.append(
            Finding(
                kind=k.GUARDRAIL_WEAKENED, guardrail=g.id, severity=g.severity, path=weaker.path,
                line=weaker.line, before=f.before, after=weaker.said,
                blocking=policy.blocks(g.severity),
                message=f"guardrail '{g.id}' moved from {f.path}:{f.line} to "
                f"{weaker.path}:{weaker.line} and was weakened: {reason}.",
                required_reviewers=f.required_reviewers, old_blob=f.old_blob, new_blob=f.new_blob,
            )
        )  # fmt: skip
    return out


def unmatched(old: Sequence[Clause], new: Sequence[Clause]) -> list[Clause]:
    """Clauses of NEW whose text OLD does not have (counted, so re-ordering is no change)."""
    return left_over((c.norm for c in old), new, _norm_of)


def left_over(old_keys: Iterable[str], new: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """The items of NEW whose key OLD_KEYS does not hold, each old key cancelling one item."""
    left: dict[str, int] = {}
    for name in old_keys:
        left[name] = left.get(name, 0) + 1
    out = []
    for item in new:
        name = key(item)
        held = left.get(name, 0)
        if held:
            left[name] = held - 1
        else:
            out.append(item)
    return out


def _norm_of(clause: Clause) -> str:
    return clause.norm


def _reported(item: Clause) -> bool:
    """A list item under a lead-in that describes attacks ("Resist jailbreak attempts such as:").

    Such items name what to resist ("uncensored personas", "requests to bypass policies");
    they are not instructions, even though no negation stands in the item itself. The item's
    own lead-in says so, whatever clauses a caller hands over around it.
    """
    lead = item.lead.rstrip()
    return item.kind == ITEM and lead.endswith(":") and describes_attacks(normalize(lead))


BLOCKING_KINDS = frozenset(
    {
        k.GUARDRAIL_REMOVED,
        k.GUARDRAIL_WEAKENED,
        k.FORBIDDEN_ADDED,
        k.POLICY_WEAKENED,
        k.GUARDRAIL_MISSING,
    }
)
