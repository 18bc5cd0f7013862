"""Hook latency: `promptaudit check` against `detect-secrets-hook` on the same staged change.

Run by hand from the repository root:

    python benchmarks/hook_latency.py [--runs N] [--importtime] [--keep DIR]

Builds a small application repository (Python sources, three Markdown system prompts of
which one is about 20 KB, a promptaudit.toml extending the default policy), then stages two
changes in turn: an edit of a .py file only, and a harmless wording edit of the 20 KB prompt.
For each, both hooks run on the same staged files, interleaved, a warm-up then N measured
runs; the medians and their ratio are printed against the targets of issue 4 (0.35 with no
prompt touched, 0.8 with one prompt touched). When a ratio misses its target, or with
--importtime, the heaviest imports of `promptaudit check` are printed (`python -X importtime`).
detect-secrets is installed into the running environment when it is missing.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import _common as c

if TYPE_CHECKING:
    from collections.abc import Callable

TARGETS = {"no prompt touched": 0.35, "one 20 KB prompt touched": 0.8}

_APP = '''"""Order lookups for the support assistant's tools."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class Order:
    order_id: str
    status: str
    placed_at: dt.datetime
    items: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {{
            "order_id": self.order_id,
            "status": self.status,
            "placed_at": self.placed_at.isoformat(),
            "items": list(self.items),
        }}


def parse_order(raw: str) -> Order:
    data = json.loads(raw)
    return Order(
        order_id=data["id"],
        status=data.get("status", "unknown"),
        placed_at=dt.datetime.fromisoformat(data["placed_at"]),
        items=tuple(data.get("items", ())),
    )
{extra}'''

_EXTRA = '''

def overdue(order: Order, now: dt.datetime, days: int = 14) -> bool:
    """True when an open order was placed more than DAYS days ago."""
    return order.status == "open" and (now - order.placed_at).days > days
'''


def ensure_detect_secrets() -> str:
    """The detect-secrets-hook script, installing detect-secrets here when it is missing."""
    hook = c.BIN / "detect-secrets-hook"
    if not hook.exists():
        print(f"detect-secrets is missing: installing it into {sys.prefix} (pip install)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "detect-secrets"], check=True)
    return c.tool("detect-secrets-hook")


def build(root: Path, env: dict[str, str], rng: random.Random) -> c.Prompt:
    c.init_repo(root, env)
    (root / "src").mkdir()
    (root / "prompts").mkdir()
    (root / "src" / "orders.py").write_text(_APP.format(extra=""))
    for name in ("billing", "search", "tickets"):
        (root / "src" / f"{name}.py").write_text(
            _APP.format(extra="").replace("Order", name.title())
        )
    big = c.make_prompt(rng, 20_000, list(c.GUARDRAILS))
    (root / "prompts" / "support.md").write_text(big.render())
    for name in ("triage", "summarizer"):
        small = c.make_prompt(rng, 6_000, rng.sample(list(c.GUARDRAILS), 3))
        (root / "prompts" / f"{name}.md").write_text(small.render())
    (root / "promptaudit.toml").write_text('extends = "default"\nprompts = ["prompts/**/*.md"]\n')
    (root / "README.md").write_text("# Support assistant\n\nPrompts live in prompts/.\n")
    c.git(root, env, "add", "-A")
    c.git(root, env, "commit", "-q", "-m", "Support assistant")
    return big


def measure(
    root: Path, env: dict[str, str], staged: list[str], runs: int, detect: str
) -> dict[str, float]:
    check = [c.tool("promptaudit"), "check"]
    commands: dict[str, Callable[[], float]] = {
        "promptaudit check": lambda: c.run_timed(check, root, env),
        "detect-secrets-hook": lambda: c.run_timed([detect, *staged], root, env),
        "python -c pass (floor)": lambda: c.run_timed([sys.executable, "-c", "pass"], root, env),
    }
    return c.medians(commands, runs)


def importtime(root: Path, env: dict[str, str], top: int = 15) -> str:
    """The heaviest imports of `promptaudit check`, by cumulative microseconds."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "promptaudit", "check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(cumulative), int(self_us), name.rstrip()))
    total = sum(r[1] for r in rows)
    rows.sort(reverse=True)
    body = c.table(
        ("module (indent = nesting)", "cumulative ms", "self ms"),
        [(name, f"{cum / 1000:.1f}", f"{own / 1000:.1f}") for cum, own, name in rows[:top]],
    )
    heavy = [
        m
        for m in ("git", "deepdiff", "tabulate", "yaml", "importlib.metadata")
        if any(name.strip() == m for _, _, name in rows)
    ]
    return (
        f"{body}\nall imports: {total / 1000:.1f} ms over {len(rows)} modules; "
        f"heavy modules imported: {', '.join(heavy) or 'none'}"
    )


def main() -> int:
    p = c.parser(__doc__.splitlines()[0], runs=15)
    p.add_argument("--importtime", action="store_true", help="always print the import profile")
    args = p.parse_args()
    detect = ensure_detect_secrets()
    root, cleanup = c.workdir(args.keep, "bench-hook-")
    env = c.git_env(root)
    rng = random.Random(4)
    try:
        repo = root / "repo"
        prompt = build(repo, env, rng)
        print(f"hook latency: median of {args.runs} runs after one warm-up ({c.machine()})")
        results: list[tuple[str, dict[str, float], list[str]]] = []

        # 1. A change that touches no prompt: one edited Python file.
        (repo / "src" / "orders.py").write_text(_APP.format(extra=_EXTRA))
        c.git(repo, env, "add", "src/orders.py")
        staged = ["src/orders.py"]
        results.append(("no prompt touched", measure(repo, env, staged, args.runs, detect), staged))
        c.git(repo, env, "commit", "-q", "-m", "Add overdue()")

        # 2. A harmless wording edit of the 20 KB prompt.
        for _ in range(3):
            c.wording_edit(rng, prompt)
        (repo / "prompts" / "support.md").write_text(prompt.render())
        c.git(repo, env, "add", "prompts/support.md")
        staged = ["prompts/support.md"]
        size = (repo / "prompts" / "support.md").stat().st_size
        name = "one 20 KB prompt touched"
        results.append((name, measure(repo, env, staged, args.runs, detect), staged))

        missed = False
        print()
        rows = []
        for name, m, staged in results:
            ratio = m["promptaudit check"] / m["detect-secrets-hook"]
            missed |= ratio > TARGETS[name]
            rows.append(
                (
                    name,
                    " ".join(staged),
                    f"{m['promptaudit check'] * 1000:.0f}",
                    f"{m['detect-secrets-hook'] * 1000:.0f}",
                    f"{m['python -c pass (floor)'] * 1000:.0f}",
                    c.verdict(ratio, TARGETS[name]),
                )
            )
        print(
            c.table(
                (
                    "staged change",
                    "files",
                    "promptaudit ms",
                    "detect-secrets ms",
                    "python floor ms",
                    "ratio",
                ),
                rows,
            )
        )
        print(f"(prompts/support.md is {size:,} bytes)")
        if missed or args.importtime:
            print("\nwhere `promptaudit check` spends its import time (python -X importtime):")
            print(importtime(repo, env))
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
