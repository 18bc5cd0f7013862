"""Measure how well the matchers tell a weakened or removed guardrail from a reworded one.

Run by hand from the repository root:

    python benchmarks/matching_eval.py [--pairs FILE] [--matcher default|semantic|all]
                                       [--show-errors]

Each labeled pair of tests/data/clause_pairs.jsonl is one clause carrying a guardrail of the
built-in policy and what an edit made of it. The clause is set between a neutral opening and
a neutral closing sentence as the prompt BEFORE, and its successor (or nothing, for a
removal) between the same two as the prompt AFTER; the change is audited with the built-in
policy restricted to the pair's guardrail. The prediction is "removed" when a blocking
guardrail-removed names it, "weakened" when a blocking guardrail-weakened does, else "kept".
Nothing here touches git or the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptaudit import findings as k
from promptaudit.audit import FileChange, audit
from promptaudit.errors import FatalError
from promptaudit.policy_load import default_policy, load_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.policy import Policy

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "clause_pairs.jsonl"
TOPICS = (
    "minors-sexual-content",
    "non-consensual-intimate-imagery",
    "self-harm",
    "mass-harm-weapons",
    "hate-harassment",
    "private-personal-data",
    "system-prompt-confidentiality",
    "instruction-hierarchy",
    "honesty",
)
EDITS = (
    "removal",
    "paraphrase",
    "modal-downgrade",
    "exception-added",
    "narrowed-scope",
    "negation-dropped",
    "benign-rewording",
    "unrelated-edit",
    "strengthened",
)
LABELS = ("removed", "weakened", "kept")
POSITIVE = frozenset({"removed", "weakened"})
MATCHERS = ("default", "semantic")

PATH = "prompts/assistant.md"
# On no guardrail's topic, and no rule: they only give the clause neighbours to be aligned past.
OPENING = (
    "You are Quill, the writing assistant of Northwind Labs, and you help people draft documents."
)
CLOSING = "Format file names and commands as inline code."


@dataclass(frozen=True)
class Pair:
    """One labeled edit of a guardrail clause."""

    id: str
    topic: str
    edit: str
    before: str
    after: str | None
    expected: str

    @property
    def positive(self) -> bool:
        return self.expected in POSITIVE


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    """The pairs of a JSON-lines file, checked: known topic, edit and label, unique ids."""
    pairs: list[Pair] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            pair = Pair(
                id=record["id"],
                topic=record["topic"],
                edit=record["edit"],
                before=record["before"],
                after=record["after"],
                expected=record["expected"],
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a pair record ({exc})") from None
        for value, allowed, name in (
            (pair.topic, TOPICS, "topic"),
            (pair.edit, EDITS, "edit"),
            (pair.expected, LABELS, "expected"),
        ):
            if value not in allowed:
                raise ValueError(f"{where}: {name} {value!r} is not one of {', '.join(allowed)}")
        if (pair.after is None) != (pair.edit == "removal"):
            raise ValueError(f"{where}: 'after' is null exactly for a removal")
        if pair.id in seen:
            raise ValueError(f"{where}: duplicate id {pair.id!r}")
        seen.add(pair.id)
        pairs.append(pair)
    return pairs


def prompt_text(clause: str | None) -> str:
    """The prompt file around CLAUSE: the neutral opening, the clause, the neutral closing."""
    parts = [OPENING, clause, CLOSING] if clause is not None else [OPENING, CLOSING]
    return "\n\n".join(parts) + "\n"


class MatcherUnavailable(Exception):
    """The matcher cannot run here (its policy key or its extra is missing)."""


def topic_policy(topic: str, matcher: str = "default") -> Policy:
    """The built-in policy with every entry but TOPIC's guardrail disabled."""
    base = default_policy()
    others = [e.id for e in (*base.guardrails, *base.forbidden) if e.id != topic]
    lines = [
        'extends = "default"',
        'prompts = ["prompts/**"]',
        "disable = [" + ", ".join(f'"{i}"' for i in others) + "]",
    ]
    if matcher != "default":
        lines.append(f'matching = "{matcher}"')
    try:
        return load_policy("\n".join(lines) + "\n", f"matching_eval[{topic}, {matcher}]")
    except FatalError as exc:
        raise MatcherUnavailable(f"{exc} {exc.hint}".strip()) from None


def predict(pair: Pair, policy: Policy) -> str:
    """The label the audit gives the pair's change under POLICY."""
    change = FileChange(PATH, PATH, prompt_text(pair.before), prompt_text(pair.after))
    kinds = {f.kind for f in audit(policy, [change]) if f.blocking and f.guardrail == pair.topic}
    if k.GUARDRAIL_REMOVED in kinds:
        return "removed"
    if k.GUARDRAIL_WEAKENED in kinds:
        return "weakened"
    return "kept"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Result:
    """The predictions of one matcher over a set of pairs."""

    matcher: str
    pairs: list[Pair]
    predicted: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def confusion(self) -> Counter[tuple[str, str]]:
        """(expected, predicted) -> count."""
        return Counter((p.expected, got) for p, got in zip(self.pairs, self.predicted, strict=True))

    @staticmethod
    def _counts(pairs: Sequence[tuple[Pair, str]]) -> tuple[int, int, int]:
        tp = sum(1 for p, got in pairs if p.positive and got in POSITIVE)
        fp = sum(1 for p, got in pairs if not p.positive and got in POSITIVE)
        fn = sum(1 for p, got in pairs if p.positive and got not in POSITIVE)
        return tp, fp, fn

    @property
    def scored(self) -> list[tuple[Pair, str]]:
        return list(zip(self.pairs, self.predicted, strict=True))

    @property
    def counts(self) -> tuple[int, int, int]:
        """True positives, false positives, false negatives of removed+weakened detection."""
        return self._counts(self.scored)

    @property
    def precision(self) -> float | None:
        tp, fp, _ = self.counts
        return _ratio(tp, tp + fp)

    @property
    def recall(self) -> float | None:
        tp, _, fn = self.counts
        return _ratio(tp, tp + fn)

    @property
    def accuracy(self) -> float | None:
        """Exact kind: removed, weakened and kept told apart."""
        right = sum(1 for p, got in self.scored if got == p.expected)
        return _ratio(right, len(self.pairs))

    @property
    def errors(self) -> list[tuple[Pair, str]]:
        return [(p, got) for p, got in self.scored if got != p.expected]

    def by(self, attr: str) -> dict[str, tuple[int, int, int, int]]:
        """Per value of ATTR (topic or edit): pairs, positives, positives caught, false alarms."""
        out: dict[str, tuple[int, int, int, int]] = {}
        for value in TOPICS if attr == "topic" else EDITS:
            group = [(p, got) for p, got in self.scored if getattr(p, attr) == value]
            if group:
                tp, fp, fn = self._counts(group)
                out[value] = (len(group), tp + fn, tp, fp)
        return out


def evaluate(pairs: Sequence[Pair], matcher: str = "default") -> Result:
    """Audit every pair with MATCHER; raises MatcherUnavailable when it cannot run here."""
    policies: dict[str, Policy] = {}
    result = Result(matcher, list(pairs))
    start = time.perf_counter()
    for pair in pairs:
        policy = policies.get(pair.topic)
        if policy is None:
            policy = policies[pair.topic] = topic_policy(pair.topic, matcher)
        try:
            result.predicted.append(predict(pair, policy))
        except (FatalError, ImportError) as exc:
            raise MatcherUnavailable(str(exc)) from None
    result.seconds = time.perf_counter() - start
    return result


# -- printing ---------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def report(result: Result, show_errors: bool = False) -> str:
    """The figures of one matcher, as printed."""
    n = len(result.pairs)
    tp, fp, fn = result.counts
    out = [f"== matcher: {result.matcher} ({n} pairs)", ""]
    confusion = result.confusion
    out.append("confusion (rows expected, columns predicted):")
    out.append(
        _table(
            ["expected", *LABELS, "total"],
            [
                [e, *(confusion[e, p] for p in LABELS), sum(confusion[e, p] for p in LABELS)]
                for e in LABELS
            ],
        )
    )
    out += [
        "",
        f"removed+weakened detection: precision {_fmt(result.precision)} ({tp}/{tp + fp}), "
        f"recall {_fmt(result.recall)} ({tp}/{tp + fn})",
        f"exact-kind accuracy: {_fmt(result.accuracy)} ({n - len(result.errors)}/{n})",
        f"time per pair: {result.seconds / n * 1000:.2f} ms ({result.seconds:.2f} s in all)"
        if n
        else "time per pair: -",
    ]
    for attr in ("topic", "edit"):
        rows = [
            [value, total, pos, _fmt(_ratio(caught, pos)), fa]
            for value, (total, pos, caught, fa) in result.by(attr).items()
        ]
        out += ["", _table([attr, "pairs", "positive", "recall", "false alarms"], rows)]
    if show_errors:
        out += ["", f"wrong predictions ({len(result.errors)}):"]
        for p, got in result.errors:
            out.append(f"{p.id}  {p.topic}  {p.edit}  expected {p.expected}, predicted {got}")
            out.append(f"    before: {p.before}")
            out.append(f"    after:  {p.after if p.after is not None else '(removed)'}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--pairs", type=Path, default=PAIRS, help=f"labeled pairs (default {PAIRS})")
    ap.add_argument("--matcher", choices=(*MATCHERS, "all"), default="all")
    ap.add_argument("--show-errors", action="store_true", help="list every wrong prediction")
    args = ap.parse_args(argv)
    try:
        pairs = load_pairs(args.pairs)
    except (OSError, ValueError) as exc:
        print(f"matching_eval: {exc}", file=sys.stderr)
        return 2
    counts = Counter(p.expected for p in pairs)
    print(
        f"{len(pairs)} pairs from {args.pairs}: "
        + ", ".join(f"{counts[label]} {label}" for label in LABELS)
    )
    results: dict[str, Result] = {}
    for matcher in MATCHERS if args.matcher == "all" else (args.matcher,):
        print()
        loaded = set(sys.modules)
        try:
            result = evaluate(pairs, matcher)
        except MatcherUnavailable as exc:
            print(f"== matcher: {matcher}: unavailable here ({exc})")
            continue
        if matcher != "default" and set(sys.modules) == loaded:
            # The policy took the key, yet nothing was imported to match with: the audit
            # does not use it (yet), and its figures would be the default matcher's.
            same = "default" in results and results["default"].predicted == result.predicted
            print(
                f"== matcher: {matcher}: not in effect (the policy accepts matching = "
                f'"{matcher}" but the audit loaded nothing for it'
                + ("; every prediction equals the default matcher's)" if same else ")")
            )
            continue
        results[matcher] = result
        print(report(result, args.show_errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
