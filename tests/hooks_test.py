"""Every hook installed and driven by real `git commit`, `git merge` and `git push`.

The hooks call `promptaudit` from PATH, so the tests put this interpreter's bin directory
first on PATH; everything else is real git against throw-away repositories.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from promptaudit.cli import HOOK_COMMANDS, HOOK_NAMES, main
from promptaudit.errors import GitError
from promptaudit.git import Repository
from promptaudit.hook_scripts import CHAINED_SUFFIX, HookError, hook_script, write_folder
from promptaudit.hook_scripts import HOOK_NAMES as SCRIPT_NAMES
from promptaudit.hooks import NAMES
from tests.conftest import GitRepo
from tests.review_test import POLICY, PROMPT

ROOT = Path(__file__).resolve().parent.parent
PROMPT_PATH = "prompts/support.md"
REMOVED = PROMPT.replace("- Never produce sexual content involving minors.\n", "")
ALICE_APPROVES = "Guardrail-Approved-by: Alice Reviewer <alice@example.com>"
ZERO = "0" * 40


@pytest.fixture(autouse=True)
def _promptaudit_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git and return the whole outcome: these tests are about exit codes and stderr."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def install(path: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["install-hooks", "-C", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def gated(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> GitRepo:
    """A repository with the policy and prompt committed and the client hooks installed."""
    repo.write("promptaudit.toml", POLICY)
    repo.write(PROMPT_PATH, PROMPT)
    repo.commit("add the support prompt")
    code, _, err = install(repo.path, capsys=capsys)
    assert (code, err) == (0, "")
    return repo


def hooks_dir(repo: GitRepo) -> Path:
    return repo.path / ".git" / "hooks"


# -- the scripts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_hooks_folder_is_the_template_output(name: str) -> None:
    path = ROOT / "hooks" / name
    assert path.read_text(encoding="utf-8") == hook_script(name), (
        "hooks/ is stale: python -m promptaudit.hook_scripts hooks"
    )
    assert os.access(path, os.X_OK)


def test_cli_hook_names_match_the_modules() -> None:
    assert HOOK_NAMES == SCRIPT_NAMES
    assert HOOK_COMMANDS == NAMES


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_script_is_posix_sh(name: str) -> None:
    text = hook_script(name, python="/opt/py 3/bin/python", chained=True)
    assert text.startswith("#!/bin/sh\n# promptaudit-hook: " + name + "\n")
    assert subprocess.run(["sh", "-n"], input=text, text=True, check=False).returncode == 0
    assert "'/opt/py 3/bin/python' -m promptaudit hook " + name in text


def test_without_promptaudit_gates_fail_closed_and_pre_commit_passes(gated: GitRepo) -> None:
    hooks = hooks_dir(gated)
    for name in ("commit-msg", "pre-commit"):  # the shipped files: no interpreter fallback
        shutil.copy(ROOT / "hooks" / name, hooks / name)
    env = {"PATH": "/usr/bin:/bin"}
    if shutil.which("promptaudit", path=env["PATH"]):
        pytest.skip("promptaudit is installed system-wide")
    gated.write("notes.txt", "harmless\n")
    gated.git("add", "-A")
    proc = git(gated.path, "commit", "-q", "-m", "notes", env=env)
    assert proc.returncode != 0
    assert "the commit-msg hook fails closed" in proc.stderr
    assert "the pre-commit hook is skipped" in proc.stderr


def test_installed_hook_falls_back_to_the_installing_interpreter(gated: GitRepo) -> None:
    if shutil.which("promptaudit", path="/usr/bin:/bin"):
        pytest.skip("promptaudit is installed system-wide")
    gated.write(PROMPT_PATH, REMOVED)
    proc = git(gated.path, "commit", "-qam", "remove", env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr


# -- install-hooks -----------------------------------------------------------------------


def test_install_writes_the_client_hooks_and_is_idempotent(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = hooks_dir(repo)
    code, out, _ = install(repo.path, capsys=capsys)
    assert code == 0
    assert out.splitlines() == [
        f"installed {n}: {hooks / n}"
        for n in ("commit-msg", "pre-commit", "pre-merge-commit", "pre-push")
    ]
    assert not (hooks / "pre-receive").exists()
    text = (hooks / "pre-push").read_text()
    assert text == hook_script("pre-push", python=sys.executable)
    assert stat.S_IMODE((hooks / "pre-push").stat().st_mode) == 0o755

    (hooks / "pre-push").write_text(text.replace("exit 1", "exit 0"))  # an older version
    code, out, _ = install(repo.path, capsys=capsys)
    assert code == 0
    assert f"updated pre-push: {hooks / 'pre-push'}" in out.splitlines()
    assert f"up to date commit-msg: {hooks / 'commit-msg'}" in out.splitlines()
    assert (hooks / "pre-push").read_text() == text


def test_install_honors_core_hooks_path(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("config", "core.hooksPath", "ci/githooks")
    (repo.path / "sub").mkdir()
    code, out, _ = install(repo.path / "sub", "--hook", "commit-msg", capsys=capsys)
    assert code == 0
    target = repo.path / "ci" / "githooks" / "commit-msg"
    assert out == f"installed commit-msg: {target}\n"
    assert target.read_text() == hook_script("commit-msg", python=sys.executable)
    assert not (hooks_dir(repo) / "commit-msg").exists()


def test_bare_repository_gets_pre_receive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    code, out, _ = install(bare, capsys=capsys)
    assert (code, out) == (0, f"installed pre-receive: {bare / 'hooks' / 'pre-receive'}\n")


def test_foreign_hook_is_refused_and_nothing_is_written(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = hooks_dir(repo) / "pre-push"
    foreign.write_text("#!/bin/sh\nexit 0\n")
    code, out, err = install(repo.path, capsys=capsys)
    assert code == 2
    assert out == ""
    assert err == (
        f"promptaudit: hook error: a pre-push hook that is not promptaudit's is in the way: "
        f"{foreign}\nhint: rerun with --chain to keep it and run it before promptaudit\n"
    )
    assert not (hooks_dir(repo) / "commit-msg").exists()
    assert foreign.read_text() == "#!/bin/sh\nexit 0\n"


def test_chain_runs_the_foreign_hook_first_then_gates_and_uninstall_restores_it(
    gated: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = hooks_dir(gated)
    code, _, _ = install(gated.path, "--uninstall", capsys=capsys)
    assert code == 0
    original = b'#!/bin/sh\necho "foreign saw $1" >> "$(git rev-parse --git-dir)/seen"\n'
    (hooks / "commit-msg").write_bytes(original)
    os.chmod(hooks / "commit-msg", 0o750)

    code, out, _ = install(gated.path, "--hook", "commit-msg", "--chain", capsys=capsys)
    assert code == 0
    assert "runs the existing hook first: commit-msg" + CHAINED_SUFFIX in out
    code, out, _ = install(gated.path, "--hook", "commit-msg", capsys=capsys)  # still chained
    assert "up to date commit-msg" in out

    gated.write(PROMPT_PATH, REMOVED)
    proc = git(gated.path, "commit", "-qam", "remove")
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr
    assert (gated.path / ".git" / "seen").read_text() == "foreign saw .git/COMMIT_EDITMSG\n"

    # A failing foreign hook stops the commit before promptaudit runs.
    (hooks / f"commit-msg{CHAINED_SUFFIX}").write_bytes(b"#!/bin/sh\necho no >&2\nexit 3\n")
    proc = git(gated.path, "commit", "-qam", "remove", "-m", ALICE_APPROVES)
    assert proc.returncode == 1
    assert proc.stderr == "no\n"
    (hooks / f"commit-msg{CHAINED_SUFFIX}").write_bytes(original)

    code, out, _ = install(gated.path, "--uninstall", "--hook", "commit-msg", capsys=capsys)
    assert (code, out) == (
        0,
        f"removed commit-msg and restored the original: {hooks / 'commit-msg'}\n",
    )
    assert (hooks / "commit-msg").read_bytes() == original
    assert stat.S_IMODE((hooks / "commit-msg").stat().st_mode) == 0o750
    assert not (hooks / f"commit-msg{CHAINED_SUFFIX}").exists()


def test_uninstall_removes_ours_and_leaves_foreign_hooks(
    gated: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = hooks_dir(gated)
    (hooks / "pre-push").write_text("#!/bin/sh\n# someone else's now\n")
    code, out, _ = install(gated.path, "--uninstall", capsys=capsys)
    assert code == 0
    assert out.splitlines() == [
        f"removed commit-msg: {hooks / 'commit-msg'}",
        f"removed pre-commit: {hooks / 'pre-commit'}",
        f"removed pre-merge-commit: {hooks / 'pre-merge-commit'}",
    ]
    assert (hooks / "pre-push").read_text() == "#!/bin/sh\n# someone else's now\n"
    code, out, _ = install(gated.path, "--uninstall", "--hook", "pre-push", capsys=capsys)
    assert out == f"left alone pre-push: {hooks / 'pre-push'} (not promptaudit's)\n"


# -- commit-msg and pre-commit through real commits ----------------------------------------


def test_commit_removing_a_guardrail_is_blocked(gated: GitRepo) -> None:
    before = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("add", "-A")
    proc = git(gated.path, "commit", "-q", "-m", "tidy the prompt")
    assert proc.returncode == 1
    # pre-commit noted what needs an approval, then commit-msg blocked.
    assert proc.stderr == PRE_COMMIT_NOTE + (
        "promptaudit: blocked: 1 guardrail change(s) need approval.\n"
        "\n"
        "prompts/support.md:8  guardrail-removed  minors  (critical)\n"
        "    - before: Never produce sexual content involving minors.\n"
        "    + after: (none)\n"
        "    who may approve: Alice Reviewer <alice@example.com>, bob@example.com\n"
        "\n"
        'Ask one of them to approve, then add the trailer "Guardrail-Approved-by: Name <email>" '
        "to the commit message, or run: promptaudit review --staged\n"
    )
    assert gated.rev() == before


PRE_COMMIT_NOTE = (
    "promptaudit: note: 1 guardrail change(s) need a reviewer's approval\n"
    "  prompts/support.md:8  guardrail-removed  minors  (critical); may approve: "
    "Alice Reviewer <alice@example.com>, bob@example.com\n"
    "promptaudit: the commit-msg hook checks next that the commit message carries "
    '"Guardrail-Approved-by: Name <email>" from one of them; without it the commit stops there\n'
)


def test_an_approved_commit_gets_a_note_not_a_block(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("add", "-A")
    proc = git(gated.path, "commit", "-q", "-m", "drop the rule", "-m", ALICE_APPROVES)
    assert (proc.returncode, proc.stderr) == (0, PRE_COMMIT_NOTE)


def test_commit_with_an_allowed_reviewers_trailer_passes(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("add", "-A")
    proc = git(
        gated.path,
        "commit",
        "-q",
        "-m",
        "drop the rule",
        "-m",
        ALICE_APPROVES,
        env={"GIT_AUTHOR_EMAIL": "dana@example.com"},
    )
    assert proc.returncode == 0, proc.stderr
    assert gated.git("log", "-1", "--format=%ae %s") == "dana@example.com drop the rule\n"


def test_the_author_cannot_approve_their_own_commit(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("add", "-A")
    env = {"GIT_AUTHOR_NAME": "Alice Reviewer", "GIT_AUTHOR_EMAIL": "alice@example.com"}
    proc = git(gated.path, "commit", "-q", "-m", "drop", "-m", ALICE_APPROVES, env=env)
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr


def test_commit_a_reads_gits_temporary_index(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, REMOVED)  # not staged: only `commit -a` puts it in the commit
    proc = git(gated.path, "commit", "-q", "-a", "-m", "tidy")
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr
    proc = git(gated.path, "commit", "-q", "-a", "-m", "tidy", "-m", ALICE_APPROVES)
    assert proc.returncode == 0, proc.stderr


def test_commit_of_paths_reads_gits_temporary_index(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, REMOVED)
    proc = git(gated.path, "commit", "-q", "-m", "tidy", "--", PROMPT_PATH)
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr

    # The removal staged, but the commit takes another path only: it removes nothing.
    gated.git("add", PROMPT_PATH)
    gated.write("notes.txt", "harmless\n")
    gated.git("add", "notes.txt")
    gated.write("notes.txt", "harmless, and committed by path\n")
    proc = git(gated.path, "commit", "-q", "-m", "notes", "--", "notes.txt")
    assert proc.returncode == 0, proc.stderr
    assert gated.git("show", "--format=", "--name-only", "HEAD") == "notes.txt\n"


def test_harmless_commit_is_silent(gated: GitRepo) -> None:
    gated.write(PROMPT_PATH, PROMPT.replace("keep answers short", "keep the answers short"))
    proc = git(gated.path, "commit", "-qam", "wording")
    assert (proc.returncode, proc.stderr) == (0, "")


# -- merges --------------------------------------------------------------------------------


def _feature_branch(repo: GitRepo, *, approved: bool) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(PROMPT_PATH, REMOVED)
    message = ["-m", "drop the rule", *(["-m", ALICE_APPROVES] if approved else [])]
    repo.git("commit", "-q", "--no-verify", "-a", *message)
    repo.git("checkout", "-q", "main")
    repo.write("notes.txt", "main moved on\n")
    repo.git("add", "notes.txt")
    repo.git("commit", "-q", "-m", "notes")


def test_merge_bringing_in_a_removal_is_blocked_by_pre_merge_commit(gated: GitRepo) -> None:
    _feature_branch(gated, approved=False)
    before = gated.rev()
    proc = git(gated.path, "merge", "--no-ff", "-m", "merge feature", "feature")
    assert proc.returncode != 0
    assert "guardrail-removed  minors" in proc.stderr
    assert gated.rev() == before
    gated.git("merge", "--abort")


MERGE_BLOCKED = (
    "promptaudit: blocked: 1 guardrail change(s) need approval.\n"
    "\n"
    "prompts/support.md:8  guardrail-removed  minors  (critical)\n"
    "    - before: Never produce sexual content involving minors.\n"
    "    + after: (none)\n"
    "    who may approve: Alice Reviewer <alice@example.com>, bob@example.com\n"
    "\n"
    "Ask one of them to approve. This hook runs before git writes the merge message, so it "
    "cannot see an approval there. The merge is stopped, not undone: finish it with "
    'git commit -m "Merge ..." -m "Guardrail-Approved-by: Name <email>", or with '
    "git commit --no-edit when your git merge -m already carried that trailer; the commit-msg "
    "hook reads it. git merge --abort undoes the merge.\n"
    "Not committing merge; use 'git commit' to complete the merge.\n"
)


@pytest.mark.parametrize(
    "finish",
    [["--no-edit"], ["-m", "Merge feature", "-m", ALICE_APPROVES]],
    ids=["message-kept", "new-message"],
)
def test_approving_in_the_merge_message_works_as_the_block_says(
    gated: GitRepo, finish: list[str]
) -> None:
    _feature_branch(gated, approved=False)
    before = gated.rev()
    merge = ["merge", "--no-ff", "-m", "Merge feature", "-m", ALICE_APPROVES, "feature"]
    proc = git(gated.path, *merge)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", MERGE_BLOCKED)
    assert gated.rev() == before

    proc = git(gated.path, "commit", "-q", *finish)
    assert (proc.returncode, proc.stderr) == (0, PRE_COMMIT_NOTE)
    assert gated.git("rev-list", "--parents", "-1", "HEAD").split()[1:] == [
        before,
        gated.rev("feature"),
    ]
    assert gated.git("log", "-1", "--format=%B") == f"Merge feature\n\n{ALICE_APPROVES}\n\n"
    # Without the trailer, the same finish is stopped by commit-msg.
    gated.git("reset", "-q", "--hard", before)
    assert git(gated.path, "merge", "--no-ff", "-m", "Merge feature", "feature").returncode == 1
    proc = git(gated.path, "commit", "-q", "--no-edit")
    assert proc.returncode == 1
    assert "promptaudit: blocked: 1 guardrail change(s) need approval." in proc.stderr
    assert gated.rev() == before


def test_merge_of_an_approved_change_passes_every_hook(gated: GitRepo) -> None:
    _feature_branch(gated, approved=True)
    proc = git(gated.path, "merge", "--no-ff", "-m", "merge feature", "feature")
    assert proc.returncode == 0, proc.stderr
    assert gated.git("rev-list", "--parents", "-1", "HEAD").count(" ") == 2


def test_fast_forward_merge_runs_no_hook_but_pre_push_stops_it(
    gated: GitRepo, tmp_path: Path
) -> None:
    server = _bare(tmp_path)
    gated.git("remote", "add", "origin", str(server))
    assert git(gated.path, "push", "-q", "origin", "main").returncode == 0
    gated.git("checkout", "-q", "-b", "feature")
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    gated.git("checkout", "-q", "main")
    assert git(gated.path, "merge", "-q", "--ff-only", "feature").returncode == 0  # no hook ran
    proc = git(gated.path, "push", "origin", "main")
    assert proc.returncode == 1
    assert "promptaudit: refs/heads/main (" in proc.stderr
    assert "guardrail-removed  minors" in proc.stderr


# -- pushes --------------------------------------------------------------------------------


def _bare(tmp_path: Path, *, hooks: bool = False) -> Path:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(server))
    if hooks:
        assert main(["install-hooks", "-C", str(server)]) == 0
    return server


def test_pre_push_blocks_an_update_and_a_new_branch(gated: GitRepo, tmp_path: Path) -> None:
    server = _bare(tmp_path)
    gated.git("remote", "add", "origin", str(server))
    assert git(gated.path, "push", "-q", "origin", "main").returncode == 0

    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    proc = git(gated.path, "push", "origin", "main")
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr
    assert "promptaudit: rejected: 1 ref(s) blocked" in proc.stderr
    assert "promptaudit approve " in proc.stderr

    gated.git("branch", "feature")
    gated.git("reset", "-q", "--hard", "HEAD~1")
    proc = git(gated.path, "push", "origin", "feature")
    assert proc.returncode == 1
    assert "promptaudit: refs/heads/feature (" in proc.stderr
    assert "guardrail-removed  minors" in proc.stderr
    assert git(server, "rev-parse", "--verify", "-q", "refs/heads/feature").returncode != 0

    # An approval-only commit on top carries the trailer: now the range is approved.
    gated.git("checkout", "-q", "feature")
    gated.git("commit", "-q", "--allow-empty", "--no-verify", "-m", "approve", "-m", ALICE_APPROVES)
    proc = git(gated.path, "push", "-q", "origin", "feature")
    assert proc.returncode == 0, proc.stderr
    # Deleting a ref is not a change to judge.
    assert git(gated.path, "push", "-q", "origin", ":feature").returncode == 0


def test_pre_push_chained_hook_sees_the_same_stdin(gated: GitRepo, tmp_path: Path) -> None:
    server = _bare(tmp_path)
    gated.git("remote", "add", "origin", str(server))
    hooks = hooks_dir(gated)
    (hooks / "pre-push").unlink()
    (hooks / "pre-push").write_text('#!/bin/sh\necho "$1 $2" > ../pushed\ncat >> ../pushed\n')
    os.chmod(hooks / "pre-push", 0o755)
    assert main(["install-hooks", "-C", str(gated.path), "--hook", "pre-push", "--chain"]) == 0
    assert git(gated.path, "push", "-q", "origin", "main").returncode == 0
    base = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    proc = git(gated.path, "push", "origin", "main")
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr
    head = gated.rev()
    assert (gated.path.parent / "pushed").read_text() == (
        f"origin {server}\nrefs/heads/main {head} refs/heads/main {base}\n"
    )


def test_pre_receive_rejects_a_no_verify_removal_and_accepts_an_approved_one(
    gated: GitRepo, tmp_path: Path
) -> None:
    server = _bare(tmp_path, hooks=True)
    gated.git("remote", "add", "origin", str(server))
    proc = git(gated.path, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr

    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    proc = git(gated.path, "push", "--no-verify", "origin", "main")  # skips our pre-push too
    assert proc.returncode == 1
    assert "remote: promptaudit: refs/heads/main (" in proc.stderr
    assert "remote: prompts/support.md:8  guardrail-removed  minors  (critical)" in proc.stderr
    assert "pre-receive hook declined" in proc.stderr

    # A new branch is judged against the server's default branch.
    proc = git(gated.path, "push", "--no-verify", "origin", "HEAD:refs/heads/sneaky")
    assert proc.returncode == 1
    assert "remote: promptaudit: refs/heads/sneaky (" in proc.stderr

    gated.git("commit", "-q", "--amend", "--no-verify", "-m", "drop the rule", "-m", ALICE_APPROVES)
    proc = git(gated.path, "push", "-q", "--no-verify", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert git(server, "rev-parse", "main").stdout.strip() == gated.rev()


def test_pre_receive_judges_only_the_protected_refs_when_told_which(
    gated: GitRepo, tmp_path: Path
) -> None:
    server = _bare(tmp_path, hooks=True)
    git(server, "config", "--add", "promptaudit.protectedRefs", "refs/heads/main")
    git(server, "config", "--add", "promptaudit.protectedRefs", "refs/heads/release/*")
    gated.git("remote", "add", "origin", str(server))
    assert git(gated.path, "push", "-q", "origin", "main").returncode == 0
    gated.git("checkout", "-q", "-b", "feature")
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    head = gated.rev()

    # A feature branch can be pushed for review, new or updated.
    proc = git(gated.path, "push", "-q", "--no-verify", "origin", "feature")
    assert (proc.returncode, proc.stderr) == (0, "")
    gated.git("commit", "-q", "--no-verify", "--allow-empty", "-m", "more")
    proc = git(gated.path, "push", "-q", "--no-verify", "origin", "feature")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert git(server, "rev-parse", "feature").stdout.strip() == gated.rev()

    # main and release/* are judged: the same commits are rejected there.
    for target in ("main", "release/1.0"):
        proc = git(gated.path, "push", "--no-verify", "origin", f"{head}:refs/heads/{target}")
        assert proc.returncode == 1
        assert f"remote: promptaudit: refs/heads/{target} (" in proc.stderr
        assert "remote: prompts/support.md:8  guardrail-removed  minors  (critical)" in proc.stderr
        assert f"-> {target} (pre-receive hook declined)" in proc.stderr
    # `*` stays in one folder: release/1.0/hotfix is not protected by refs/heads/release/*.
    proc = git(gated.path, "push", "-q", "--no-verify", "origin", f"{head}:refs/heads/release/1/x")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert git(server, "rev-parse", "main").stdout.strip() == gated.rev("main")


def test_a_protected_refs_value_that_protects_nothing_rejects_the_push(
    gated: GitRepo, tmp_path: Path
) -> None:
    server = _bare(tmp_path, hooks=True)
    git(server, "config", "promptaudit.protectedRefs", "main")
    gated.git("remote", "add", "origin", str(server))
    proc = git(gated.path, "push", "--no-verify", "origin", "main")
    assert proc.returncode == 1
    remote = [line.rstrip() for line in proc.stderr.splitlines() if line.startswith("remote:")]
    assert remote == [
        "remote: promptaudit: hook error: promptaudit.protectedRefs = 'main' is not a full ref "
        "name, so it protects nothing",
        "remote: hint: write it as a full ref name, e.g. refs/heads/main",
    ]


# -- the hook command in-process: argument checks and edge cases ---------------------------


def run_hook(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: Path,
    *args: str,
    stdin: str = "",
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main(["hook", "-C", str(path), *args])
    return code, capsys.readouterr().err


def test_hook_arguments_are_checked_and_errors_fail_closed(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_hook(monkeypatch, capsys, gated.path, "commit-msg")
    assert (code, err) == (
        2,
        "promptaudit: hook error: hook commit-msg takes 1 argument(s), got 0\n"
        "hint: install the hook scripts with: promptaudit install-hooks\n",
    )
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-push", "origin", stdin="garbage\n")
    assert code == 2
    assert "pre-push: cannot parse the line 'garbage'" in err
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-receive", stdin="a b\n")
    assert code == 2
    code, err = run_hook(monkeypatch, capsys, gated.path.parent, "pre-merge-commit")
    assert code == 2
    assert err.startswith("promptaudit: git error: not a git repository")


def test_pre_commit_reports_errors_but_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_hook(monkeypatch, capsys, tmp_path, "pre-commit")
    assert code == 0
    assert err.startswith("promptaudit: git error: not a git repository")
    assert "pre-commit only informs" in err


def test_pre_push_skips_deletions_and_judges_unknown_remote_commits_as_new(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    head = gated.rev()
    gated.git("update-ref", "refs/remotes/origin/main", base)
    unknown = "1" * 40
    lines = (
        f"(delete) {ZERO} refs/heads/old {base}\nrefs/heads/main {head} refs/heads/main {unknown}\n"
    )
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-push", "origin", "url", stdin=lines)
    assert (code, err) == (
        1,
        f"promptaudit: refs/heads/main ({base[:12]}..{head[:12]}) is blocked\n"
        "promptaudit: blocked: 1 guardrail change(s) need approval.\n"
        "\n"
        "prompts/support.md:8  guardrail-removed  minors  (critical)\n"
        "    - before: Never produce sexual content involving minors.\n"
        "    + after: (none)\n"
        "    who may approve: Alice Reviewer <alice@example.com>, bob@example.com\n"
        "\n"
        'Ask one of them to approve, then either add the trailer "Guardrail-Approved-by: Name '
        '<email>" to a commit of the range (amend it, or add an empty commit carrying it), or '
        "commit the signed approval they make with: "
        f"promptaudit approve {base[:12]}..{head[:12]}.\n"
        "promptaudit: rejected: 1 ref(s) blocked\n",
    )
    # No remote-tracking branch to compare with: the branch is judged as a whole.
    new = f"refs/heads/main {head} refs/heads/main {ZERO}\n"
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-push", "elsewhere", "u", stdin=new)
    assert (code, err) == (0, "")


def test_pre_receive_judges_a_new_ref_against_head_unless_it_is_head(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    head = gated.rev()
    gated.git("reset", "-q", "--hard", base)
    new_topic = f"{ZERO} {head} refs/heads/topic\n"
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-receive", stdin=new_topic)
    assert code == 1
    assert err.startswith(f"promptaudit: refs/heads/topic ({base[:12]}..{head[:12]}) is blocked")
    # Unrelated history (no merge base) and the default branch itself: judged whole.
    orphan = gated.git("commit-tree", f"{head}^{{tree}}", "-m", "orphan").strip()
    new_main = (
        f"{ZERO} {head} refs/heads/main\n{head} {ZERO} refs/heads/gone\n"
        f"{ZERO} {orphan} refs/heads/orphan\n"
    )
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-receive", stdin=new_main)
    assert (code, err) == (0, "")


def _stage_removal(repo: GitRepo) -> None:
    repo.write(PROMPT_PATH, REMOVED)
    repo.git("add", "-A")


def test_commit_msg_reads_the_trailer_from_the_message_file(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stage_removal(gated)
    msg = gated.write(".git/COMMIT_EDITMSG", "drop the rule\n")
    code, err = run_hook(monkeypatch, capsys, gated.path, "commit-msg", str(msg))
    assert code == 1
    assert err.startswith("promptaudit: blocked: 1 guardrail change(s) need approval.\n")
    msg.write_text(f"drop the rule\n\n{ALICE_APPROVES}\n")
    assert run_hook(monkeypatch, capsys, gated.path, "commit-msg", str(msg)) == (0, "")
    # The framework's commit-msg entry, with the file and without it (filtered away).
    assert run_hook(monkeypatch, capsys, gated.path, "framework-commit-msg", str(msg))[0] == 0
    code, err = run_hook(monkeypatch, capsys, gated.path, "framework-commit-msg")
    assert code == 1
    assert err.endswith("so approval trailers in the message were not read\n")


def test_pre_commit_warns_about_a_staged_removal_and_exits_0(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stage_removal(gated)
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-commit")
    assert (code, err) == (0, PRE_COMMIT_NOTE)


def test_pre_commit_survives_even_a_bug(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import promptaudit.hooks

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(promptaudit.hooks, "staged_range", broken)
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-commit")
    assert code == 0
    assert err.startswith("promptaudit: internal error: RuntimeError: boom\n")


@pytest.mark.parametrize("approved", [False, True])
def test_pre_merge_commit_learns_the_merged_commits_without_merge_head(
    gated: GitRepo,
    approved: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _feature_branch(gated, approved=approved)
    gated.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    feature = gated.rev("feature")
    # What pre-merge-commit sees: the merge result in the index, MERGE_HEAD not yet written.
    (gated.path / ".git" / "MERGE_HEAD").unlink()
    want = 0 if approved else 1
    monkeypatch.setenv("GIT_REFLOG_ACTION", "merge feature")
    assert run_hook(monkeypatch, capsys, gated.path, "pre-merge-commit")[0] == want
    # `git pull` keeps its own reflog action; FETCH_HEAD says what it merges.
    monkeypatch.setenv("GIT_REFLOG_ACTION", "pull origin")
    gated.write(".git/FETCH_HEAD", f"{feature}\t\tbranch 'feature' of ../origin\n")
    assert run_hook(monkeypatch, capsys, gated.path, "pre-merge-commit")[0] == want
    # Unknown merged commits: judged as a plain staged change, without their trailers.
    monkeypatch.setenv("GIT_REFLOG_ACTION", "merge nonesuch")
    code, err = run_hook(monkeypatch, capsys, gated.path, "pre-merge-commit")
    assert code == 1
    assert err.endswith("were not read; git commit finishes the merge and reads them\n")
    # With MERGE_HEAD (the commit-msg hook of the same merge), the trailers count again.
    gated.write(".git/MERGE_HEAD", feature + "\n")
    msg = gated.write(".git/MERGE_MSG", "merge feature\n")
    assert run_hook(monkeypatch, capsys, gated.path, "commit-msg", str(msg))[0] == want
    assert gated.git("status", "--porcelain") == "M  prompts/support.md\n"


def test_framework_push_reads_the_refs_pre_commit_exports(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", "HEAD")
    code, err = run_hook(monkeypatch, capsys, gated.path, "framework-push")
    assert code == 1
    assert err.startswith(f"promptaudit: HEAD ({base[:12]}..{gated.rev()[:12]}) is blocked\n")
    monkeypatch.delenv("PRE_COMMIT_FROM_REF")
    monkeypatch.delenv("PRE_COMMIT_TO_REF")
    # A push reaching a root commit the remote lacks: the branch is judged as a whole.
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main")
    assert run_hook(monkeypatch, capsys, gated.path, "framework-push") == (0, "")
    monkeypatch.delenv("PRE_COMMIT_LOCAL_BRANCH")
    # A manual run without refs: this branch against the default branch.
    gated.git("checkout", "-q", "-b", "topic")
    gated.git("branch", "-f", "main", base)
    assert run_hook(monkeypatch, capsys, gated.path, "framework-push")[0] == 1


def test_chaining_refuses_to_overwrite_an_earlier_chained_hook(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = hooks_dir(repo)
    (hooks / "pre-push").write_text("#!/bin/sh\n")
    (hooks / f"pre-push{CHAINED_SUFFIX}").write_text("#!/bin/sh\n")
    code, _, err = install(repo.path, "--chain", capsys=capsys)
    assert code == 2
    assert f"{hooks / 'pre-push'}{CHAINED_SUFFIX} already exists" in err


def test_write_folder_regenerates_hooks(tmp_path: Path) -> None:
    written = write_folder(str(tmp_path))
    assert [Path(p).name for p in written] == list(SCRIPT_NAMES)
    for name in SCRIPT_NAMES:
        assert (tmp_path / name).read_bytes() == (ROOT / "hooks" / name).read_bytes()
    with pytest.raises(HookError, match="unknown hook 'post-commit'"):
        hook_script("post-commit")


PROBE = """
import sys
from promptaudit.cli import main
code = main(sys.argv[1:])
import json
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("hook", ["pre-receive", "commit-msg"])
def test_a_blocking_hook_imports_nothing_heavy(gated: GitRepo, hook: str) -> None:
    base = gated.rev()
    gated.write(PROMPT_PATH, REMOVED)
    if hook == "commit-msg":
        gated.git("add", "-A")
        args, stdin = ["hook", "commit-msg", ".git/COMMIT_EDITMSG"], ""
        gated.write(".git/COMMIT_EDITMSG", "drop\n")
    else:
        gated.git("commit", "-q", "--no-verify", "-am", "drop")
        args, stdin = ["hook", "pre-receive"], f"{base} {gated.rev()} refs/heads/main\n"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=gated.path,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout.splitlines()[-1])
    assert data["code"] == 1
    heavy = ("tabulate", "deepdiff", "yaml", "git", "jsonschema", "importlib.metadata")
    assert [m for m in heavy if m in data["modules"]] == []


def test_an_unwritable_hooks_directory_is_one_line_and_a_hint(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("not-a-dir", "")
    repo.git("config", "core.hooksPath", "not-a-dir")
    code, out, err = install(repo.path, capsys=capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"promptaudit: hook error: cannot write hooks in {repo.path}/not-a-dir: ")
    assert err.endswith(
        "hint: check that you may write there (or point core.hooksPath elsewhere)\n"
    )


def test_merge_state_that_git_cannot_use_fails_closed(
    gated: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gated.git("checkout", "-q", "-b", "feature")
    gated.write(PROMPT_PATH, REMOVED)
    gated.git("commit", "-q", "--no-verify", "-am", "drop the rule")
    gated.git("checkout", "-q", "main")
    gated.write(PROMPT_PATH, PROMPT.replace("involving minors.", "involving minors, ever."))
    gated.git("commit", "-q", "--no-verify", "-am", "reword")
    assert git(gated.path, "merge", "-q", "--no-ff", "--no-commit", "feature").returncode == 1
    msg = str(gated.path / ".git" / "MERGE_MSG")
    code, err = run_hook(monkeypatch, capsys, gated.path, "commit-msg", msg)
    assert code == 2
    assert err.startswith("promptaudit: git error: git write-tree failed: ")
    gated.write(".git/MERGE_HEAD", "f" * 40 + "\n")
    code, err = run_hook(monkeypatch, capsys, gated.path, "commit-msg", msg)
    assert code == 2
    assert err.startswith("promptaudit: git error: MERGE_HEAD names an unknown commit ffffffffffff")


def test_fetch_head_entries_not_for_merge_are_ignored(gated: GitRepo) -> None:
    with Repository(gated.path) as repo:
        assert repo.fetch_heads_for_merge() == []
        head = repo.head()
        gated.write(".git/FETCH_HEAD", f"{head}\tnot-for-merge\tbranch 'x' of ../o\n")
        assert repo.fetch_heads_for_merge() == []
        with pytest.raises(GitError, match="git merge-base failed"):
            repo.common_ancestor("HEAD", "0" * 39 + "1")


ALICE = {"GIT_AUTHOR_NAME": "Alice Reviewer", "GIT_AUTHOR_EMAIL": "alice@example.com"}


def _merge_by_hand(repo: GitRepo) -> None:
    """Alice merges a harmless branch and, before committing, removes the guardrail herself."""
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("notes.txt", "harmless\n")
    repo.git("add", "notes.txt")
    repo.git("commit", "-q", "--no-verify", "-m", "notes")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    repo.write(PROMPT_PATH, REMOVED)
    repo.git("add", PROMPT_PATH)


def test_the_merger_cannot_approve_what_they_changed_by_hand(gated: GitRepo) -> None:
    _merge_by_hand(gated)
    proc = git(gated.path, "commit", "-q", "-m", "merge", "-m", ALICE_APPROVES, env=ALICE)
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stderr


def test_a_reviewer_may_approve_in_the_merge_message_what_others_wrote(gated: GitRepo) -> None:
    _feature_branch(gated, approved=False)  # Dana wrote the removal on feature
    gated.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    proc = git(gated.path, "commit", "-q", "-m", "merge", "-m", ALICE_APPROVES, env=ALICE)
    assert proc.returncode == 0, proc.stderr


def test_review_of_a_merge_changed_by_hand_refuses_the_mergers_own_approval(
    gated: GitRepo,
) -> None:
    _merge_by_hand(gated)
    gated.git("commit", "-q", "--no-verify", "-m", "merge", "-m", ALICE_APPROVES, env=ALICE)
    assert main(["review", "HEAD", "-q", "-C", str(gated.path)]) == 1
