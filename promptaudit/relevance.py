"""Which clauses can take part in a finding: the question a history walk asks of every clause.

A clause matters when it is on a guardrail's topic, trips a forbidden entry, reads like a
safety rule nobody listed, or lets someone see what a rule protects. Most clauses of a prompt are none of these, and asking each rule in
turn costs tens of microseconds a clause; one search for the needles every rule requires
(`promptaudit.needles`) answers "no" for those clauses in a few, and only the others are asked
in full, so the answer is the same.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from promptaudit.matching import (
    _INTENSIFIERS,
    _SENSITIVE,
    may_permit_access,
    reads_like_safety_rule,
    satisfies,
    trips,
)
from promptaudit.needles import Needle, Screen, required_literals
from promptaudit.similarity import critical_needles

if TYPE_CHECKING:
    from promptaudit.clauses import Clause
    from promptaudit.policy import Policy, Rule

# By policy id, the policy (held, so that its id stays its own), its screen, and the screen
# for its needles and the critical topics together.
_SCREENS: dict[int, tuple[Policy, Screen | None, Screen | None]] = {}


def can_matter(policy: Policy, clause: Clause) -> bool:
    """Can this clause take part in a finding? Its topic, a forbidden trip, a safety rule, or
    a permission to see what a guardrail protects ("admins may view your instructions", which
    no rule's words match, weakens it)."""
    if turned_away(policy, clause.norm):
        return False
    screen = _screen(policy)
    ruled = (screen is None or screen.matches(clause.norm)) and (
        any(satisfies(g, clause, loose=True) for g in policy.guardrails)
        or any(trips(f, clause) for f in policy.forbidden)
        or reads_like_safety_rule(clause.norm)
    )
    return ruled or (bool(policy.guardrails) and _may_permit_access(clause.norm))


def turned_away(policy: Policy, norm: str) -> bool:
    """Can no clause of this norm matter, by one search? It holds no rule's needle and names
    no critical topic: most clauses. (False says nothing: ask can_matter.)"""
    either = _screens(policy)[1]
    return either is not None and not either.matches(norm)


def _may_permit_access(norm: str) -> bool:
    topics = _topics()
    return (topics is None or topics.matches(norm)) and may_permit_access(norm)


@lru_cache(maxsize=1)
def _topics() -> Screen | None:
    """The critical topics, one of which a permission may_permit_access flags names (its
    verbs, "see", "read", "show", are far more common words); None without needles."""
    needles = critical_needles()
    return Screen(needles) if needles is not None else None


def prepare(policy: Policy) -> None:
    """Compile what can_matter asks of POLICY now (its patterns, its needles), rather than
    at the first clause: a caller that waits for git can do it meanwhile."""
    _screen(policy)
    _topics()


def screened(policy: Policy, clauses: list[Clause]) -> list[Clause]:
    """The clauses some rule of POLICY may match, in order: the others match none."""
    screen = _screen(policy)
    if screen is None:
        return clauses
    return [c for c in clauses if screen.matches(c.norm)]


def _screen(policy: Policy) -> Screen | None:
    """The policy's needles, ready to search; None when some rule offers no needle."""
    return _screens(policy)[0]


def _screens(policy: Policy) -> tuple[Screen | None, Screen | None]:
    """The policy's screen (see _screen), and one that also finds the critical topics (a
    clause that neither finds cannot matter); None when either has no needles."""
    held = _SCREENS.get(id(policy))
    if held is not None and held[0] is policy:
        return held[1], held[2]
    if len(_SCREENS) >= 64:
        _SCREENS.clear()
    needles = _policy_needles(policy)
    topics = critical_needles()
    screen = None if needles is None else Screen(needles)
    either = None
    if needles is not None and (topics is not None or not policy.guardrails):
        either = Screen([*needles, *(topics or [])] if policy.guardrails else needles)
    _SCREENS[id(policy)] = (policy, screen, either)
    return screen, either


def _policy_needles(policy: Policy) -> list[Needle] | None:
    needles: list[Needle] = []
    for rule in (*policy.guardrails, *policy.forbidden):
        found = _rule_needles(rule)
        if found is None:
            return None
        needles += found
    # Forbidden entries are also tried with intensifiers dropped ("never, ever refuse"), and
    # an unlisted safety rule needs a sensitive word.
    for rx in (_INTENSIFIERS, _SENSITIVE):
        fixed = required_literals(rx.pattern)
        if fixed is None:  # pragma: no cover - both are fixed patterns with literals
            return None
        needles += fixed
    return needles


def _rule_needles(rule: Rule) -> list[Needle] | None:
    """Needles one of which a clause on RULE's topic contains; None when there is no such test.

    Patterns that name punctuation also run on the clause with its punctuation kept, where
    a needle of the normalized text proves nothing: such a rule is never screened.
    """
    if rule.light_regexes:
        return None
    needles: list[Needle] = [(p, True, True) for p in rule.norm_phrases]
    for found in rule.regex_needles:
        if found is None:
            return None
        needles += found
    return needles
