"""`promptaudit demo`: what it prints, the repository it leaves, and that it needs no git setup."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from promptaudit import demo
from promptaudit.cli import main
from promptaudit.errors import GitError

TITLES = [
    "1. A harmless rewording and re-wrap",
    "2. A removed guardrail",
    "3. A softened guardrail",
    "4. An added loosening instruction",
]
# (severity, kind, guardrail, where, status): the one table row each step's review prints.
ROWS = [
    ("medium", "guardrail-modified", "honesty", "prompts/support_assistant.md:37", "info"),
    ("critical", "guardrail-removed", "mass-harm-weapons", "prompts/support_assistant.md:31", "BLOCKING"),
    ("high", "guardrail-weakened", "payment-credentials", "prompts/support_assistant.md:32", "BLOCKING"),
    ("high", "forbidden-added", "politically-incorrect", "prompts/support_assistant.md:13", "BLOCKING"),
]  # fmt: skip
VERDICTS = [
    "OK: nothing blocking.",
    "BLOCKED: 1 blocking finding(s) need approval.",
    "BLOCKED: 1 blocking finding(s) need approval.",
    "BLOCKED: 1 blocking finding(s) need approval.",
]
AUTHORS = [
    "Maya Chen <maya.chen@acme.example>",
    "Jonas Weber <jonas.weber@acme.example>",
    "Priya Raman <priya.raman@acme.example>",
    "Leo Martins <leo.martins@acme.example>",
    "Sam Keller <sam.keller@acme.example>",
]
IDENTITY_VARS = (
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "EMAIL",
)  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["demo", *args])
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(out: str) -> list[tuple[str, ...]]:
    """The rows of every findings table, each split on its column gaps."""
    rows: list[tuple[str, ...]] = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("----------"):
            for row in lines[i + 1 :]:
                if not row:
                    break
                rows.append(tuple(re.split(r"\s{2,}", row.strip())))
    return rows


def git(path: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    )
    return proc.stdout


def check_walkthrough(out: str) -> None:
    lines = out.splitlines()
    assert lines[0] == "promptaudit demo: one assistant prompt, four edits, four reviews"
    assert [line for line in lines if re.match(r"\d\. ", line)] == TITLES
    assert table_rows(out) == ROWS
    assert [line for line in lines if line.startswith(("OK:", "BLOCKED:"))] == VERDICTS
    headers = [line for line in lines if line.startswith("promptaudit: ")]
    assert [re.sub(r"\b[0-9a-f]{12}\b", "SHA", line) for line in headers] == [
        "promptaudit: SHA..SHA  1 finding(s), 0 blocking",
        *["promptaudit: SHA..SHA  1 finding(s), 1 blocking"] * 3,
    ]
    assert (
        "    payment-credentials, private-personal-data, self-harm, system-prompt-confidentiality"
        in lines
    )
    assert (
        "  - Commit a promptaudit.toml (start from: promptaudit policy --default) and run" in lines
    )


def test_demo_reviews_four_edits_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    check_walkthrough(out)
    assert out.endswith(
        "\nThe demo repository was temporary; keep one with: promptaudit demo --keep DIR\n"
    )
    assert "\x1b[" not in out


def test_demo_explains_each_step_with_its_commit(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys)
    step_1 = out.split("1. A harmless rewording and re-wrap\n", 1)[1].splitlines()[:4]
    assert step_1[0] == (
        "   Jonas Weber re-orders the Tone bullets, re-wraps the self-harm rule and rewords the "
        "honesty rule."
    )
    sha = step_1[2].removeprefix("   $ promptaudit review ")
    assert re.fullmatch(r"[0-9a-f]{12}", sha)
    assert step_1[1] == (
        f'   commit {sha} "Tidy the tone and safety wording": prompts/support_assistant.md +6 -6'
    )
    assert step_1[3] == ""
    assert (
        "  - before: Be honest: never invent order details, prices, policies or troubleshooting steps."
        in out
    )
    assert (
        "  approve: Grace Okafor <grace.okafor@acme.example>, Ravi Menon <ravi.menon@acme.example>"
        in out
    )
    assert (
        "    guardrail payment-credentials: required; approvers (group safety): Grace Okafor, Ravi Menon"
        in out
    )


def test_keep_leaves_the_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new" / "demo"
    code, out, err = run(capsys, "--keep", str(target))
    assert (code, err) == (0, "")
    check_walkthrough(out)
    assert out.endswith(
        f"\nThe demo repository is kept in {target}\n"
        f"  try: git -C {target} log --stat; promptaudit review -C {target} main~4..main\n"
    )
    assert git(target, "rev-list", "--count", "HEAD") == "5\n"
    assert git(target, "symbolic-ref", "--short", "HEAD") == "main\n"
    assert git(target, "log", "--reverse", "--format=%an <%ae>").splitlines() == AUTHORS
    assert git(target, "status", "--porcelain") == ""
    assert git(target, "ls-files").splitlines() == [
        "promptaudit.toml",
        "prompts/support_assistant.md",
    ]
    printed = re.findall(r"^   \$ promptaudit review (\w{12})$", out, flags=re.M)
    assert printed == [sha[:12] for sha in git(target, "rev-list", "--reverse", "HEAD").split()[1:]]


def test_commit_ids_are_the_same_on_every_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--keep", str(tmp_path / "a"))
    run(capsys, "--keep", str(tmp_path / "b"))
    assert git(tmp_path / "a", "rev-parse", "HEAD") == git(tmp_path / "b", "rev-parse", "HEAD")


def test_keep_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, out, err = run(capsys, "--keep", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"promptaudit: error: --keep {tmp_path}: the folder is not empty\n"
        "hint: name a new or an empty folder, e.g. promptaudit demo --keep promptaudit-demo\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_keep_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo").write_text("mine\n")
    code, out, err = run(capsys, "--keep", str(tmp_path / "demo"))
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f"promptaudit: error: --keep {tmp_path / 'demo'}: not a folder"


def test_keep_accepts_an_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "--keep", str(tmp_path))
    assert code == 0
    assert git(tmp_path, "rev-list", "--count", "HEAD") == "5\n"


def test_demo_ignores_a_hostile_git_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No identity, signing that always fails, hooks that always fail: the demo still runs."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch '{tmp_path}/ran-{name}'\nexit 1\n")
        hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(
        "[user]\n\tuseConfigOnly = true\n[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n"
        f"[core]\n\thooksPath = {hooks}\n[init]\n\tdefaultBranch = trunk\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    for var in IDENTITY_VARS:
        monkeypatch.delenv(var, raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    proc = subprocess.run(["git", "-C", str(plain), "commit", "-q", "--allow-empty", "-m", "x"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0  # the config really does break an ordinary commit

    code, out, err = run(capsys, "--keep", str(tmp_path / "demo"))
    assert (code, err) == (0, "")
    check_walkthrough(out)
    assert not list(tmp_path.glob("ran-*"))
    assert git(tmp_path / "demo", "symbolic-ref", "--short", "HEAD") == "main\n"


def test_console_script_needs_no_git_setup(tmp_path: Path) -> None:
    script = Path(sysconfig.get_path("scripts")) / "promptaudit"
    assert script.exists(), f"install the package first: {script} is missing"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY_VARS}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1")  # fmt: skip
    proc = subprocess.run([str(script), "demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False, timeout=60)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    check_walkthrough(proc.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_color_makes_titles_bold() -> None:
    lines: list[str] = []
    demo.run_demo(lines.append, color=True)
    assert "\x1b[1m1. A harmless rewording and re-wrap\x1b[0m" in lines
    assert any("\x1b[31m\x1b[1mBLOCKED:" in line for line in lines)


def test_a_review_that_differs_from_the_story_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = dataclasses.replace(demo.STEPS[0], blocked=True)
    monkeypatch.setattr(demo, "STEPS", (wrong, *demo.STEPS[1:]))
    code, out, err = run(capsys)
    assert code == 2
    assert "1. A harmless rewording" not in out
    assert err.splitlines()[0] == (
        "promptaudit: internal error: RuntimeError: demo step 1 (A harmless rewording and re-wrap): "
        "expected [('guardrail-modified', 'honesty')] (blocked), "
        "the review found [('guardrail-modified', 'honesty')]"
    )


def test_an_edit_that_no_longer_applies_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = dataclasses.replace(demo.STEPS[1], edits=(("- Refuse to help with lasers.\n", ""),))
    monkeypatch.setattr(demo, "STEPS", (demo.STEPS[0], stale, *demo.STEPS[2:]))
    code, _, err = run(capsys)
    assert code == 2
    assert err.splitlines()[0] == (
        "promptaudit: internal error: RuntimeError: demo step 2: the text to edit occurs 0 times: "
        "'- Refuse to help with lasers.\\n'"
    )


def test_demo_prompt_is_a_realistic_size() -> None:
    prompt = (demo.DEMO_DATA / "support_assistant.md").read_text(encoding="utf-8")
    assert 35 <= len(prompt.splitlines()) <= 50
    assert "## Safety" in prompt


def test_a_failing_git_command_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        demo, "_GIT_CONFIG", ("-c", "commit.gpgsign=true", "-c", "gpg.program=false")
    )
    code, _, err = run(capsys)
    assert code == 2
    assert (
        err
        == "promptaudit: git error: demo: git commit failed: error: gpg failed to sign the data\n"
    )


def test_a_git_without_init_b_gets_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def old_git(cwd: object, *args: str, env: object = None) -> str:
        raise GitError("git -c failed: error: unknown switch `b'", "")

    monkeypatch.setattr(demo, "run_git", old_git)
    code, out, err = run(capsys)
    assert (code, out) == (
        2,
        "promptaudit demo: one assistant prompt, four edits, four reviews\n\n",
    )
    assert err == (
        "promptaudit: git error: demo: git init failed: error: unknown switch `b'\n"
        "hint: the demo needs git 2.28 or later (git --version)\n"
    )


def test_keep_under_a_file_cannot_be_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("mine\n")
    code, out, err = run(capsys, "--keep", str(tmp_path / "file" / "demo"))
    assert (code, out) == (2, "")
    assert err == (
        f"promptaudit: error: --keep {tmp_path / 'file' / 'demo'}: cannot create the folder: "
        "Not a directory\nhint: name a folder you can write to\n"
    )


def test_a_step_about_a_guardrail_the_prompt_lacks_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = dataclasses.replace(
        demo.STEPS[1], expected=frozenset({("guardrail-removed", "hate-harassment")})
    )
    monkeypatch.setattr(demo, "STEPS", (demo.STEPS[0], wrong, *demo.STEPS[2:]))
    code, out, err = run(capsys)
    assert code == 2
    assert "Setup:" not in out
    assert err.splitlines()[0].startswith(
        "promptaudit: internal error: RuntimeError: demo setup: the first commit's review found "
        "[('guardrail-added', 'honesty'), "
    )
    assert err.splitlines()[0].endswith(
        "the steps need guardrail-added for ['hate-harassment', 'honesty', 'payment-credentials']"
    )
