"""`promptaudit show PATH[@REV]`: one prompt as the audit sees it.

Each clause in force, with the guardrails it carries and the forbidden entries it trips, then
the guardrails that apply to the file but that no clause carries. The reviewer's view of a
prompt, and the quickest way to see why a policy does or does not match a clause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptaudit.clauses import clauses_of
from promptaudit.errors import FatalError
from promptaudit.formats import decode
from promptaudit.git import Repository
from promptaudit.matching import satisfies, trips
from promptaudit.policy import POLICY_FILES, Guardrail, Policy
from promptaudit.policy_load import default_policy, load_policy


@dataclass(frozen=True)
class AnnotatedClause:
    line: int
    text: str
    guardrails: tuple[str, ...]
    forbidden: tuple[str, ...]


@dataclass(frozen=True)
class Shown:
    path: str
    rev: str
    policy_source: str
    in_scope: bool
    clauses: tuple[AnnotatedClause, ...]
    missing: tuple[Guardrail, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rev": self.rev,
            "policy": self.policy_source,
            "prompt": self.in_scope,
            "clauses": [
                {
                    "line": c.line,
                    "text": c.text,
                    "guardrails": list(c.guardrails),
                    "forbidden": list(c.forbidden),
                }
                for c in self.clauses
            ],
            "missing": [
                {
                    "guardrail": g.id,
                    "severity": g.severity,
                    "required": g.required,
                    "description": g.description,
                }
                for g in self.missing
            ],
        }


def annotate(
    policy: Policy, path: str, text: str
) -> tuple[tuple[AnnotatedClause, ...], tuple[Guardrail, ...]]:
    """Pure: the clauses of TEXT with what each carries, and the guardrails nothing carries."""
    applicable = [g for g in policy.guardrails if g.applies_to(path)]
    forbidden = [f for f in policy.forbidden if f.applies_to(path)]
    out = []
    carried: set[str] = set()
    for c in clauses_of(path, text, policy.prompt_keys):
        gs = tuple(g.id for g in applicable if satisfies(g, c))
        carried.update(gs)
        out.append(
            AnnotatedClause(c.line, c.text, gs, tuple(f.id for f in forbidden if trips(f, c)))
        )
    return tuple(out), tuple(g for g in applicable if g.id not in carried)


def show(repo_path: str, spec: str) -> Shown:
    """PATH[@REV]: the prompt at REV (default HEAD) under the policy committed at REV."""
    path, _, rev = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if not path:
        raise FatalError(
            "no file given" + (f" before the '@' in {spec!r}" if spec else ""),
            "name a file, and a revision if you like: promptaudit show prompts/support.md@HEAD~1",
        )
    rev = rev or "HEAD"
    with Repository(repo_path) as repo:
        sha = repo.resolve(rev)
        data = repo.blobs.read(f"{sha}:{path}")
        if data is None:
            folder = path.rstrip("/")
            if folder and repo.blobs.kind(f"{sha}:{folder}") == "tree":
                raise FatalError(
                    f"{path} is a directory at {rev}, not a file",
                    f"name one of its files: git ls-tree -r --name-only {rev} -- {folder}",
                )
            raise FatalError(
                f"{path} does not exist at {rev}",
                f"list the files: git ls-tree -r --name-only {rev}",
            )
        policies = [
            (n, d) for n in POLICY_FILES if (d := repo.blobs.read(f"{sha}:{n}")) is not None
        ]
    if policies:
        name, raw = policies[0]
        policy = load_policy(raw.decode("utf-8-sig"), f"{name}@{sha[:12]}", path=name)
    else:
        policy = default_policy()
    text = decode(data, path, policy.max_prompt_bytes)
    clauses, missing = annotate(policy, path, text)
    return Shown(path, sha, policy.source, policy.is_prompt(path), clauses, missing)
