"""History: `promptaudit log` over 5,000 commits against `git log -p`, and its peak memory.

Run by hand from the repository root:

    python benchmarks/history.py [--commits 5000] [--small 1000] [--runs N] [--profile]
                                 [--keep DIR]

Generates, with `git fast-import`, a repository whose history edits 20 Markdown system prompts
of about 8 KB under prompts/ (named in a promptaudit.toml that extends the default policy):
mostly wording edits of a paragraph; about 1% of the commits remove or soften a guardrail
clause or add a loosening instruction, half of those with a Guardrail-Approved-by trailer;
a few commits restore what an earlier one removed.

b. time: `promptaudit log` against `git log -p --no-renames -- <the prompt paths>` on the
   same repository, interleaved, median of N runs after a warm-up. Target: ratio <= 3.
c. memory: peak RSS of `promptaudit log` over all the commits against the same walk stopped
   at the 1,000th commit (`--until`), each measured with getrusage(RUSAGE_CHILDREN) around a
   single run in a fresh helper process. Target: peak(5000) <= 1.2 x peak(1000).

--profile prints cProfile of the in-process `promptaudit log` (by cumulative time).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import _common as c

if TYPE_CHECKING:
    from collections.abc import Callable

TIME_TARGET = 3.0
MEMORY_TARGET = 1.2
FILES = 20
_AUTHORS = (
    ("Priya Raman", "priya@example.com"),
    ("Tomás Ortega", "tomas@example.com"),
    ("Mei Lin", "mei@example.com"),
    ("Jonas Berg", "jonas@example.com"),
    ("Amara Okafor", "amara@example.com"),
    ("Sam Whitfield", "sam@example.com"),
)
_START = 1_672_650_000  # 2023-01-02, a Monday morning


@dataclass
class Generated:
    """What the generator wrote, for the report."""

    commits: int
    guardrail_commits: int
    approved: int
    restores: int
    paths: list[str]
    loosening: list[int]  # 0-based positions of the commits that loosen a guardrail


class Stream:
    """A `git fast-import` stream of one linear branch."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"],
            cwd=repo,
            env=env,
            stdin=subprocess.PIPE,
        )
        assert self.proc.stdin is not None
        self.out = self.proc.stdin
        self.mark = 0
        self.when = _START

    def data(self, payload: bytes) -> None:
        self.out.write(b"data %d\n" % len(payload))
        self.out.write(payload)
        self.out.write(b"\n")

    def commit(
        self, author: tuple[str, str], message: str, files: dict[str, str], rng: random.Random
    ) -> None:
        self.mark += 1
        self.when += rng.randint(1_800, 30_000)
        ident = f"{author[0]} <{author[1]}> {self.when} +0000".encode()
        self.out.write(b"commit refs/heads/main\nmark :%d\n" % self.mark)
        self.out.write(b"author " + ident + b"\ncommitter " + ident + b"\n")
        self.data(message.encode())
        if self.mark > 1:
            self.out.write(b"from :%d\n" % (self.mark - 1))
        for path, text in files.items():
            self.out.write(f"M 100644 inline {path}\n".encode())
            self.data(text.encode())
        self.out.write(b"\n")

    def close(self) -> None:
        self.out.write(b"done\n")
        self.out.close()
        if self.proc.wait() != 0:
            raise SystemExit("git fast-import failed")


def generate(repo: Path, env: dict[str, str], commits: int, seed: int = 5) -> Generated:
    """A linear history of COMMITS commits over FILES prompts; the first commit adds them all."""
    rng = random.Random(seed)
    c.init_repo(repo, env)
    names = [f"prompts/{n}.md" for n in _prompt_names(rng)]
    prompts = {
        name: c.make_prompt(rng, 8_192, rng.sample(list(c.GUARDRAILS), rng.randint(3, 6)))
        for name in names
    }
    policy = 'extends = "default"\nprompts = [\n' + "".join(f'    "{n}",\n' for n in names) + "]\n"
    stream = Stream(repo, env)
    first = {name: p.render() for name, p in prompts.items()}
    first["promptaudit.toml"] = policy
    first["README.md"] = "# Assistants\n\nOne system prompt per assistant, in prompts/.\n"
    stream.commit(_AUTHORS[0], "Add the assistants' system prompts\n", first, rng)
    removed: list[tuple[str, str]] = []  # (path, guardrail clause) taken out, to restore later
    gen = Generated(commits, 0, 0, 0, names, [])
    for _ in range(commits - 1):
        author = rng.choice(_AUTHORS)
        name = rng.choice(names)
        prompt = prompts[name]
        trailer = ""
        roll = rng.random()
        if roll < 0.01:
            subject = _loosen(rng, name, prompt, removed)
            gen.guardrail_commits += 1
            gen.loosening.append(stream.mark)  # the commit about to be written, 0-based
            if rng.random() < 0.5:
                approver = rng.choice([a for a in _AUTHORS if a != author])
                trailer = f"\n\nGuardrail-Approved-by: {approver[0]} <{approver[1]}>"
                gen.approved += 1
        elif roll < 0.013 and removed:
            path, clause = removed.pop(rng.randrange(len(removed)))
            name, prompt = path, prompts[path]
            prompt.safety.items.append(clause)
            subject = f"Restore a safety rule in {Path(path).stem}"
            gen.restores += 1
        else:
            for _ in range(rng.randint(1, 3)):
                c.wording_edit(rng, prompt)
            subject = rng.choice(
                (
                    f"Reword the {Path(name).stem} prompt",
                    f"{Path(name).stem}: tighten the instructions",
                    f"Clarify the {Path(name).stem} assistant's answers",
                    f"{Path(name).stem}: copy edits",
                )
            )
        files = {name: prompt.render()}
        if rng.random() < 0.05:  # now and then a commit edits two prompts
            other = rng.choice(names)
            c.wording_edit(rng, prompts[other])
            files[other] = prompts[other].render()
        stream.commit(author, subject + trailer + "\n", files, rng)
    stream.close()
    c.git(repo, env, "reset", "-q", "--hard")
    return gen


def _prompt_names(rng: random.Random) -> list[str]:
    kinds = ("support", "billing", "onboarding", "search", "triage", "summarizer", "sales")
    langs = ("en", "de", "fr")
    return sorted(rng.sample([f"{k}-{lang}" for k in kinds for lang in langs], FILES))


def _loosen(rng: random.Random, name: str, prompt: c.Prompt, removed: list[tuple[str, str]]) -> str:
    """Remove or soften a guardrail clause, or add a loosening instruction; the subject line."""
    stem = Path(name).stem
    held = [g for g, text in c.GUARDRAILS.items() if text in prompt.safety.items]
    roll = rng.random()
    if held and roll < 0.35:
        g = rng.choice(held)
        prompt.safety.items.remove(c.GUARDRAILS[g])
        removed.append((name, c.GUARDRAILS[g]))
        return f"{stem}: drop a redundant safety rule"
    if held and roll < 0.7:
        g = rng.choice(held)
        i = prompt.safety.items.index(c.GUARDRAILS[g])
        prompt.safety.items[i] = c.SOFTENED[g]
        return f"{stem}: make the safety section less strict"
    para = rng.choice([b for b in prompt.blocks if b.kind == "para"])
    para.items.insert(rng.randrange(len(para.items) + 1), rng.choice(c.LOOSENERS))
    return f"{stem}: let the assistant be more direct"


def main() -> int:
    p = c.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--commits", type=int, default=5_000, help="commits of the big history")
    p.add_argument("--small", type=int, default=1_000, help="where the small walk stops")
    p.add_argument("--profile", action="store_true", help="print a cProfile of promptaudit log")
    args = p.parse_args()
    root, cleanup = c.workdir(args.keep, "bench-history-")
    env = c.git_env(root)
    try:
        repo = root / "repo"
        gen = generate(repo, env, args.commits)
        shas = c.git(repo, env, "rev-list", "--reverse", "HEAD").split()
        small_sha = shas[args.small - 1]
        print(
            f"history: {len(shas):,} commits, {FILES} prompts of about 8 KB; "
            f"{gen.guardrail_commits} commits loosen a guardrail ({gen.approved} approved), "
            f"{gen.restores} restore one"
        )
        print(f"median of {args.runs} runs after one warm-up ({c.machine()})\n")

        pa = c.tool("promptaudit")
        gitlog = ["git", "log", "-p", "--no-renames"]
        cmds = {
            "log": [pa, "log"],
            "git": [*gitlog, "--", *gen.paths],
            "log small": [pa, "log", "--until", small_sha],
            "git small": [*gitlog, small_sha, "--", *gen.paths],
        }
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        measures: dict[str, Callable[[], float]] = {
            name: (lambda cmd=cmd, name=name: c.run_timed(cmd, repo, env, cpu=cpu[name]))
            for name, cmd in cmds.items()
        }
        t = c.medians(measures, args.runs)
        # The warm-up's CPU figures are left out, as its times are.
        cpu_med = {name: statistics.median(v[1:]) for name, v in cpu.items()}
        events = json.loads(
            subprocess.run(
                [pa, "log", "--format", "json"], cwd=repo, env=env, capture_output=True, check=True
            ).stdout
        )["events"]
        kinds = Counter(e["kind"] for e in events)
        flagged = {e["commit"] for e in events if e.get("blocking")}
        caught = sum(1 for i in gen.loosening if shas[i] in flagged)
        blocking = sum(1 for e in events if e.get("blocking"))
        ratio = t["log"] / t["git"]
        rows = [
            (
                f"{args.commits:,} commits",
                f"{t['log']:.2f}",
                f"{t['git']:.2f}",
                c.verdict(ratio, TIME_TARGET),
            ),
            (
                f"{args.small:,} commits (--until)",
                f"{t['log small']:.2f}",
                f"{t['git small']:.2f}",
                f"{t['log small'] / t['git small']:.2f}",
            ),
        ]
        print("b. time")
        print(c.table(("walk", "promptaudit log s", "git log -p s", "ratio"), rows))
        print(
            "CPU seconds (user and system, promptaudit with its git children), medians: "
            f"{cpu_med['log']:.2f} vs {cpu_med['git']:.2f} = "
            f"{cpu_med['log'] / cpu_med['git']:.2f} over {args.commits:,} commits; "
            f"{cpu_med['log small']:.2f} vs {cpu_med['git small']:.2f} over {args.small:,}"
        )
        print(
            f"events found: {len(events)} ({blocking} blocking): "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
        print(
            f"loosening commits with a blocking event: {caught} of {len(gen.loosening)}; "
            f"other commits with one: {len(flagged - {shas[i] for i in gen.loosening})}"
        )

        tree: dict[str, list[int]] = {"big": [], "small": []}
        own: dict[str, list[int]] = {"big": [], "small": []}
        git_rss: list[int] = []
        for _ in range(max(1, min(args.runs, 3))):
            tree["big"].append(c.tree_peak_rss_kib(cmds["log"], repo, env))
            tree["small"].append(c.tree_peak_rss_kib(cmds["log small"], repo, env))
            own["big"].append(c.own_peak_rss_kib(["log"], repo, env))
            own["small"].append(c.own_peak_rss_kib(["log", "--until", small_sha], repo, env))
            git_rss.append(c.tree_peak_rss_kib(cmds["git"], repo, env))
        peak = {k: statistics.median(v) / 1024 for k, v in tree.items()}
        mine = {k: statistics.median(v) / 1024 for k, v in own.items()}
        print("\nc. memory (peak RSS, MiB, median of up to 3 runs)")
        print(
            c.table(
                ("measure", f"{args.commits:,} commits", f"{args.small:,} commits", "ratio"),
                [
                    (
                        "promptaudit log and its git children",
                        f"{peak['big']:.1f}",
                        f"{peak['small']:.1f}",
                        c.verdict(peak["big"] / peak["small"], MEMORY_TARGET),
                    ),
                    (
                        "promptaudit process alone",
                        f"{mine['big']:.1f}",
                        f"{mine['small']:.1f}",
                        f"{mine['big'] / mine['small']:.2f}",
                    ),
                    (
                        "git log -p (reference)",
                        f"{statistics.median(git_rss) / 1024:.1f}",
                        "",
                        "",
                    ),
                ],
            )
        )
        if args.profile or ratio > TIME_TARGET:
            print("\ncProfile of `promptaudit log` in-process, top functions by cumulative time:")
            print(c.profile(["log"], repo, env))
    finally:
        cleanup()
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
