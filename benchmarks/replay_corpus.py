"""Replay real prompt histories through promptaudit: import each one, audit every change.

Run by hand from the repository root:

    python benchmarks/replay_corpus.py [--corpus DIR] [--only NAME] [--policy PATH]
                                       [--details] [--json OUT]

Each JSON-lines history under the corpus folder (default: ../shared/corpus next to this
repository) is imported with `promptaudit import` into a temporary repository, and every
imported change is reviewed against its parent, as `promptaudit review REV` would. The
baseline commits an import adds are not changes of the source and are not audited. Without
`--policy` the judge is the imported `promptaudit.toml`: the built-in default policy, with
every imported file among its prompts. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptaudit.errors import FatalError
from promptaudit.git import Repository
from promptaudit.importer import SOURCE_TRAILER, import_history
from promptaudit.review import Range, run_review

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.findings import Finding

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
_TEXT_KEYS = ("text", "after", "before")


@dataclass(frozen=True)
class Audited:
    """One blocking finding, with the source change it came from."""

    source_id: str
    commit: str
    date: str
    subject: str
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source_id,
            "commit": self.commit,
            "date": self.date,
            "subject": self.subject,
            **self.finding.to_dict(),
        }


@dataclass
class Replay:
    """The figures of one history."""

    name: str
    changes: int = 0
    baselines: int = 0
    blocking: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    findings: list[Audited] = field(default_factory=list)
    import_seconds: float = 0.0
    replay_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.name,
            "changes_audited": self.changes,
            "baseline_commits": self.baselines,
            "blocking": sum(self.blocking.values()),
            "blocking_by_kind": dict(sorted(self.blocking.items())),
            "warnings": sum(self.warnings.values()),
            "warnings_by_kind": dict(sorted(self.warnings.items())),
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "import_seconds": round(self.import_seconds, 3),
            "replay_seconds": round(self.replay_seconds, 3),
            "blocking_findings": [a.to_dict() for a in self.findings],
        }


def histories(corpus: Path) -> tuple[list[Path], list[Path]]:
    """(files holding prompt texts, other .jsonl files such as rename lists), sorted."""
    texts: list[Path] = []
    others: list[Path] = []
    for path in sorted(corpus.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            first = next((ln for ln in fh if ln.strip()), "{}")
        record = json.loads(first)
        (texts if any(k in record for k in _TEXT_KEYS) else others).append(path)
    return texts, others


def init_policy_at_first_version(repo_dir: Path, first: str, workdir: Path) -> Path:
    """The policy `promptaudit init` proposes for the history's first version, as a file."""
    from promptaudit.gitwrite import run_git
    from promptaudit.init import init_policy
    from promptaudit.policy_load import load_policy

    checkout = workdir / "first-version"
    run_git(workdir, "clone", "-q", str(repo_dir), str(checkout))
    run_git(checkout, "checkout", "-q", first)
    imported = load_policy((repo_dir / "promptaudit.toml").read_text(encoding="utf-8"), "imported")
    result = init_policy(str(checkout), imported.prompts, dry_run=True)
    target = workdir / "init-policy.toml"
    target.write_text(result.toml, encoding="utf-8")
    return target


def replay_history(
    path: Path,
    name: str,
    workdir: Path,
    *,
    policy: str | None = None,
    init_column: bool = False,
) -> Replay:
    """Import PATH into a new repository under WORKDIR and review every imported change.

    With INIT_COLUMN, the changes are judged by the policy `promptaudit init` proposes for the
    first version instead of the built-in one (the team that adopted promptaudit on day one).
    """
    result = Replay(name + (" [init policy]" if init_column else ""))
    started = time.perf_counter()
    imported = import_history(str(path), str(workdir / "repo"))
    if init_column:
        policy = str(
            init_policy_at_first_version(workdir / "repo", imported.commits[0][1], workdir)
        )
    result.import_seconds = time.perf_counter() - started
    result.changes = len(imported.commits)
    result.baselines = imported.baselines
    started = time.perf_counter()
    with Repository(workdir / "repo") as repo:
        head = imported.commits[-1][1]
        meta = {c.sha: c for c in repo.range_commits(None, head, SOURCE_TRAILER)}
        for source_id, sha in imported.commits:
            try:
                review = run_review(repo, Range(repo.parent(sha), sha), policy_override=policy)
            except FatalError as exc:
                result.errors.append(f"{source_id[:12]}: {exc.kind}: {exc.message}")
                continue
            for f in review.findings:
                (result.blocking if f.blocking else result.warnings)[f.kind] += 1
                if f.blocking:
                    info = meta[sha]
                    result.findings.append(Audited(source_id, sha, info.date, info.subject, f))
    result.replay_seconds = time.perf_counter() - started
    return result


def _excerpt(text: str | None, width: int = 160) -> str:
    if text is None:
        return "(none)"
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render(results: Sequence[Replay], *, details: bool) -> str:
    """The figures as a plain table, and every blocking finding with --details."""
    lines = [
        f"{'history':<58} {'changes':>7} {'blocking':>8} {'warnings':>8} {'errors':>6} "
        f"{'import':>8} {'replay':>8}"
    ]
    for r in results:
        lines.append(
            f"{r.name:<58} {r.changes:>7} {sum(r.blocking.values()):>8} "
            f"{sum(r.warnings.values()):>8} {len(r.errors):>6} "
            f"{r.import_seconds:>7.2f}s {r.replay_seconds:>7.2f}s"
        )
        if r.blocking:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.blocking.items()))
            lines.append(f"    blocking by kind: {kinds}")
        if r.warnings:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.warnings.items()))
            lines.append(f"    warnings by kind: {kinds}")
        if r.baselines:
            lines.append(f"    baseline commits (not audited): {r.baselines}")
        lines.extend(f"    error: {e}" for e in r.errors[:3])
    if details:
        for r in results:
            lines += ["", f"== {r.name}: {sum(r.blocking.values())} blocking findings"]
            for a in r.findings:
                f = a.finding
                lines += [
                    f"{a.source_id[:12]} {a.date[:10]} {a.subject[:60]!r} (imported {a.commit[:12]})",
                    f"    {f.path}:{f.line}  {f.kind}  {f.guardrail}  {f.severity}",
                    f"    - {_excerpt(f.before)}",
                    f"    + {_excerpt(f.after)}",
                ]
    return "\n".join(lines) + "\n"


def _selected(name: str, only: Sequence[str]) -> bool:
    return not only or any(
        name in (o, f"{o}.jsonl") or name.startswith(o.rstrip("/") + "/") for o in only
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="replay only this history (folder/file.jsonl, or a folder); repeatable",
    )
    parser.add_argument("--policy", metavar="PATH", help="judge with this policy file")
    parser.add_argument("--details", action="store_true", help="print every blocking finding")
    parser.add_argument(
        "--init-column",
        action="store_true",
        help="also judge each history by the policy promptaudit init proposes for its first version",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"replay_corpus: no corpus folder at {args.corpus}", file=sys.stderr)
        return 2
    texts, others = histories(args.corpus)
    results = []
    for path in texts:
        name = path.relative_to(args.corpus).as_posix()
        if not _selected(name, args.only):
            continue
        for init_column in (False, True) if args.init_column else (False,):
            with tempfile.TemporaryDirectory(prefix="promptaudit-replay-") as tmp:
                try:
                    results.append(
                        replay_history(
                            path, name, Path(tmp), policy=args.policy, init_column=init_column
                        )
                    )
                except FatalError as exc:  # the import (or init) itself failed
                    failed = Replay(name + (" [init policy]" if init_column else ""))
                    failed.errors.append(f"import: {exc.kind}: {exc.message}")
                    results.append(failed)
    if not results:
        print("replay_corpus: no history matched --only", file=sys.stderr)
        return 2
    sys.stdout.write(render(results, details=args.details))
    for path in others:
        name = path.relative_to(args.corpus).as_posix()
        if _selected(name, args.only):
            print(f"skipped {name}: its records hold no file texts")
    if args.json:
        args.json.write_text(
            json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return 2 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
