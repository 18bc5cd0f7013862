"""`promptaudit demo`: a throw-away repository, four realistic edits, and the review of each.

The demo checks every review against what it announces and raises an internal error when they
differ, so it can never show a verdict the engine did not give. Commits carry fixed identities
and dates: the run needs no git identity, and its commit ids are the same on every machine.
"""

from __future__ import annotations

import shlex
import tempfile
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptaudit import findings as k
from promptaudit.errors import FatalError, GitError
from promptaudit.git import Repository
from promptaudit.gitwrite import run_git
from promptaudit.policy import Guardrail, email_of
from promptaudit.policy_load import load_policy
from promptaudit.report import render
from promptaudit.review import resolve_range, run_review

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from promptaudit.findings import Review

DEMO_DATA = Path(__file__).with_name("demo_data")
PROMPT = "prompts/support_assistant.md"
POLICY = "promptaudit.toml"
TEAM_GUARDRAIL = "payment-credentials"
TEAM_FORBIDDEN = "promise-compensation"
# Whatever the user's own git config says, the demo's commits must not be signed, must not run
# their hooks, and must not start a file-system monitor in a folder about to be deleted.
_GIT_CONFIG = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")  # fmt: skip
_START = datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)
_SETUP_AUTHOR = "Maya Chen <maya.chen@acme.example>"
_SETUP_MESSAGE = "Add the support assistant prompt and its guardrail policy"

NEXT_STEPS = (
    "  - Commit a promptaudit.toml (start from: promptaudit policy --default) and run",
    "    `promptaudit review` in CI on every pull request: exit code 1 fails the job.",
    "  - Run `promptaudit install-hooks`, so that a blocked change stops at commit and push",
    "    time (CI or the server's pre-receive hook is the gate that cannot be skipped).",
    "  - An intended change passes once a listed reviewer approves it with a trailer in",
    '    the commit message: "Guardrail-Approved-by: Name <email>".',
)


@dataclass(frozen=True)
class Step:
    """One edit to the prompt, committed by its own author, and the findings it must produce."""

    title: str
    author: str
    story: str
    message: str
    edits: tuple[tuple[str, str], ...]  # (old, new): each old text occurs exactly once
    expected: frozenset[tuple[str, str]]  # (kind, guardrail) of every finding, nothing more
    blocked: bool


STEPS = (
    Step(
        title="A harmless rewording and re-wrap",
        author="Jonas Weber <jonas.weber@acme.example>",
        story="re-orders the Tone bullets, re-wraps the self-harm rule and rewords the honesty rule",
        message="Tidy the tone and safety wording",
        edits=(
            (
                "- Be warm, calm and brief: people who write to support are often frustrated.\n"
                "- Use plain language and short steps. Avoid jargon unless the customer uses it first.\n"
                "- Answer in the language the customer writes in.\n",
                "- Answer in the language the customer writes in.\n"
                "- Be warm, calm and brief: people who contact support are often frustrated already.\n"
                "- Use plain language and short steps. Avoid jargon unless the customer uses it first.\n",
            ),
            (
                "respond with care, do not describe any method,\n"
                "  and share the local emergency number and a crisis line.",
                "respond with care, do not describe any\n"
                "  method, and share the local emergency number and a crisis line.",
            ),
            (
                "- Be honest: never invent order details, prices, policies or troubleshooting steps. If you do\n"
                "  not know,",
                "- Be honest: never make up order details, prices, policies or troubleshooting steps. If\n"
                "  you do not know,",
            ),
        ),
        expected=frozenset({(k.GUARDRAIL_MODIFIED, "honesty")}),
        blocked=False,
    ),
    Step(
        title="A removed guardrail",
        author="Priya Raman <priya.raman@acme.example>",
        story="deletes the weapons rule, judging it beside the point for a support assistant",
        message="Drop a safety rule that does not apply to customer support",
        edits=(
            (
                "- Refuse to help with weapons, explosives or anything meant to hurt people, even when the\n"
                "  request is framed as a question about Acme devices.\n",
                "",
            ),
        ),
        expected=frozenset({(k.GUARDRAIL_REMOVED, "mass-harm-weapons")}),
        blocked=True,
    ),
    Step(
        title="A softened guardrail",
        author="Leo Martins <leo.martins@acme.example>",
        story=f"turns 'Never ask ...' into 'Try to avoid asking ...' in the team's {TEAM_GUARDRAIL} rule",
        message="Let the assistant help customers who want to pay by chat",
        edits=(
            (
                "- Never ask a customer for a full card number, the card's security code or their account\n"
                "  password;",
                "- Try to avoid asking a customer for a full card number, the card's security code or their\n"
                "  account password;",
            ),
        ),
        expected=frozenset({(k.GUARDRAIL_WEAKENED, TEAM_GUARDRAIL)}),
        blocked=True,
    ),
    Step(
        title="An added loosening instruction",
        author="Sam Keller <sam.keller@acme.example>",
        story="adds a Tone bullet meant to make the assistant sound more candid",
        message="Make the assistant sound more candid",
        edits=(
            (
                "- Call the customer by their first name only if they have given it.\n",
                "- Call the customer by their first name only if they have given it.\n"
                "- Don't shy away from making claims which are politically incorrect, as long as they are\n"
                "  well substantiated.\n",
            ),
        ),
        expected=frozenset({(k.FORBIDDEN_ADDED, "politically-incorrect")}),
        blocked=True,
    ),
)


def run_demo(echo: Callable[[str], None], *, keep: str | None = None, color: bool = False) -> None:
    """Build the demo repository, commit each step, and print the review of each."""
    prompt = (DEMO_DATA / "support_assistant.md").read_text(encoding="utf-8")
    policy_text = (DEMO_DATA / "promptaudit.toml").read_text(encoding="utf-8")

    def title(text: str) -> None:
        echo(click.style(text, bold=True) if color else text)

    with _workdir(keep) as root:
        title("promptaudit demo: one assistant prompt, four edits, four reviews")
        echo("")
        _git(root, "init", "-q", "-b", "main")
        _write(root, PROMPT, prompt)
        _write(root, POLICY, policy_text)
        sha = _commit(root, _SETUP_AUTHOR, _SETUP_MESSAGE, 0)
        with Repository(root) as repo:
            carried = _setup_guardrails(repo, sha)
        title(f"Setup: {_name(_SETUP_AUTHOR)} commits the prompt and its policy ({sha[:12]})")
        for line in _setup_lines(prompt, policy_text, carried):
            echo("  " + line)

        for number, step in enumerate(STEPS, 1):
            prompt = _apply(step, number, prompt)
            _write(root, PROMPT, prompt)
            sha = _commit(root, step.author, step.message, number)
            with Repository(root) as repo:
                review = run_review(repo, resolve_range(repo, sha))
                stat = _stat(repo, sha)
            _verify(step, number, review)
            echo("")
            title(f"{number}. {step.title}")
            echo(f"   {_name(step.author)} {step.story}.")
            echo(f'   commit {sha[:12]} "{step.message}": {stat}')
            echo(f"   $ promptaudit review {sha[:12]}")
            echo("")
            echo(render(review, "table", color=color).rstrip("\n"))

        echo("")
        title("What next, in your own repository")
        for line in NEXT_STEPS:
            echo(line)
        echo("")
        if keep is None:
            echo("The demo repository was temporary; keep one with: promptaudit demo --keep DIR")
        else:
            where = shlex.quote(str(root))
            echo(f"The demo repository is kept in {root}")
            echo(f"  try: git -C {where} log --stat; promptaudit review -C {where} main~4..main")


@contextmanager
def _workdir(keep: str | None) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="promptaudit-demo-") as tmp:
            yield Path(tmp)
        return
    path = Path(keep).absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FatalError(
            f"--keep {keep}: {'not a folder' if not path.is_dir() else 'the folder is not empty'}",
            "name a new or an empty folder, e.g. promptaudit demo --keep promptaudit-demo",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FatalError(
            f"--keep {keep}: cannot create the folder: {exc.strerror}",
            "name a folder you can write to",
        ) from None
    yield path


def _write(root: Path, relpath: str, text: str) -> None:
    target = root / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")


def _commit(root: Path, author: str, message: str, day: int) -> str:
    """Stage everything and commit as AUTHOR on the demo's DAY; returns the commit id."""
    name, email = _name(author), email_of(author) or ""
    when = (_START + timedelta(days=day, minutes=17 * day)).isoformat()
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": when,
    }
    _git(root, "add", "-A", env=env)
    _git(root, "commit", "-q", "-m", message, env=env)
    with Repository(root) as repo:
        sha = repo.head()
    if sha is None:
        raise RuntimeError(f"demo: the commit {message!r} left no HEAD")
    return sha


def _git(root: Path, command: str, *args: str, env: dict[str, str] | None = None) -> None:
    try:
        run_git(root, *_GIT_CONFIG, command, *args, env=env)
    except GitError as exc:
        # run_git names its first argument, here "-c"; name the command and keep git's words.
        cause = exc.message.split(" failed: ", 1)[-1]
        # `init -b` is the newest thing the demo asks of git.
        hint = "the demo needs git 2.28 or later (git --version)" if command == "init" else ""
        raise GitError(f"demo: git {command} failed: {cause}", hint) from None


def _name(identity: str) -> str:
    return identity.partition(" <")[0]


def _apply(step: Step, number: int, text: str) -> str:
    for old, new in step.edits:
        if text.count(old) != 1:
            raise RuntimeError(
                f"demo step {number}: the text to edit occurs {text.count(old)} times: {old!r}"
            )
        text = text.replace(old, new)
    return text


def _setup_guardrails(repo: Repository, sha: str) -> list[str]:
    """The guardrails the first commit's review finds in the prompt, checked against the demo's."""
    review = run_review(repo, resolve_range(repo, sha))
    found = sorted((f.kind, f.guardrail or "") for f in review.findings)
    carried = [g for kind, g in found if kind == k.GUARDRAIL_ADDED]
    needed = sorted({g for step in STEPS for kind, g in step.expected if kind != k.FORBIDDEN_ADDED})
    if len(carried) != len(found) or not set(needed) <= set(carried):
        raise RuntimeError(
            f"demo setup: the first commit's review found {found}; "
            f"the steps need guardrail-added for {needed}"
        )
    return carried


def _setup_lines(prompt: str, policy_text: str, carried: list[str]) -> list[str]:
    policy = load_policy(policy_text, POLICY, path=POLICY)
    team = policy.entry(TEAM_GUARDRAIL)
    forbidden = policy.entry(TEAM_FORBIDDEN)
    if not isinstance(team, Guardrail) or not team.required or forbidden is None:
        raise RuntimeError(f"demo setup: {POLICY} lacks {TEAM_GUARDRAIL} or {TEAM_FORBIDDEN}")
    approvers = ", ".join(_name(r) for r in policy.expand_reviewers(team.reviewers))
    groups = ", ".join(team.reviewers)
    return [
        f"{PROMPT}: Acme's support-assistant system prompt, {len(prompt.splitlines())} lines;",
        *textwrap.wrap(
            f"it carries {len(carried)} guardrails: " + ", ".join(carried),
            width=92,
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        ),
        f'{POLICY}: the built-in policy (extends = "default"), block_at = {policy.block_at}, plus',
        f"  guardrail {TEAM_GUARDRAIL}: required; approvers (group {groups}): {approvers}",
        f"  forbidden {TEAM_FORBIDDEN}: {forbidden.description}",
    ]


def _stat(repo: Repository, sha: str) -> str:
    """`path +added -deleted` for each file the commit changed, from git's --numstat."""
    out = repo.run("diff-tree", "-r", "--numstat", "--no-commit-id", f"{sha}^", sha).decode()
    parts = []
    for line in out.splitlines():
        added, deleted, path = line.split("\t", 2)
        parts.append(f"{path} +{added} -{deleted}")
    return ", ".join(parts)


def _verify(step: Step, number: int, review: Review) -> None:
    """The demo must never narrate a verdict the review did not give."""
    found = {(f.kind, f.guardrail or "") for f in review.findings}
    if found != step.expected or review.blocked != step.blocked:
        raise RuntimeError(
            f"demo step {number} ({step.title}): expected {sorted(step.expected)}"
            f"{' (blocked)' if step.blocked else ''}, the review found {sorted(found)}"
            f"{' (blocked)' if review.blocked else ''}"
        )
