"""The real pre-commit tool running this project as a hook repository.

One session-scoped setup snapshots the working tree (other people's uncommitted edits
included) into a throw-away git repository, and lets pre-commit clone it and pip-install it
into its own environment once. Without network access to PyPI the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV
from tests.review_test import POLICY, PROMPT

ROOT = Path(__file__).resolve().parent.parent
PROMPT_PATH = "prompts/support.md"
REMOVED = PROMPT.replace("- Never produce sexual content involving minors.\n", "")
ALICE_APPROVES = "Guardrail-Approved-by: Alice Reviewer <alice@example.com>"
# Read before any fixture points HOME at a temporary folder: pip's download cache lives here.
PIP_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "pip")
# Signs that pip could not reach the index; a bad requirement alone must fail, not skip.
NETWORK_TROUBLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "ConnectTimeout",
    "ReadTimeout",
    "ProxyError",
    "SSLError",
)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _snapshot(dest: Path, env: dict[str, str]) -> str:
    """Commit the working tree as it is now (tracked and new files) into DEST; return the sha."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env
    )
    assert listed.returncode == 0, listed.stderr
    for rel in filter(None, listed.stdout.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        proc = _run(["git", *args], dest, env)
        assert proc.returncode == 0, proc.stderr
    return _run(["git", "rev-parse", "HEAD"], dest, env).stdout.strip()


class Framework:
    """The environment that pre-commit runs in, and the hook repository it installed."""

    def __init__(self, env: dict[str, str], config: str) -> None:
        self.env = env
        self.config = config

    def repo(self, path: Path) -> Path:
        """A repository with the policy and prompt committed and pre-commit's hooks installed."""
        path.mkdir()
        self.git(path, "init", "-q", "-b", "main")
        (path / ".pre-commit-config.yaml").write_text(self.config)
        (path / "promptaudit.toml").write_text(POLICY)
        (path / "prompts").mkdir()
        (path / PROMPT_PATH).write_text(PROMPT)
        self.git(path, "add", "-A")
        self.git(path, "commit", "-q", "--no-verify", "-m", "add the support prompt")
        proc = self.run(
            path,
            sys.executable,
            "-m",
            "pre_commit",
            "install",
            "--hook-type",
            "commit-msg",
            "--hook-type",
            "pre-push",
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return path

    def run(self, cwd: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
        return _run(list(cmd), cwd, self.env)

    def git(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(cwd, "git", *args)


@pytest.fixture(scope="session")
def framework(tmp_path_factory: pytest.TempPathFactory) -> Framework:
    pytest.importorskip(
        "pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')"
    )
    base = tmp_path_factory.mktemp("precommit")
    home = base / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        **GIT_ENV,
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "PRE_COMMIT_HOME": str(base / "cache"),
        "PIP_CACHE_DIR": PIP_CACHE,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_DEFAULT_TIMEOUT": "20",
        "PIP_RETRIES": "1",
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("PROMPTAUDIT_POLICY", None)
    hook_repo = base / "promptaudit-src"
    hook_repo.mkdir()
    rev = _snapshot(hook_repo, env)
    config = (
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: promptaudit\n"
        "      - id: promptaudit-push\n"
    )
    probe = base / "probe"
    probe.mkdir()
    _run(["git", "init", "-q", "-b", "main"], probe, env)
    (probe / ".pre-commit-config.yaml").write_text(config)
    started = time.monotonic()
    proc = _run([sys.executable, "-m", "pre_commit", "install-hooks"], probe, env)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        log = proc.stdout + proc.stderr
        cache_log = base / "cache" / "pre-commit.log"
        if cache_log.exists():
            log += cache_log.read_text(errors="replace")
        trouble = [
            line.strip() for line in log.splitlines() if any(s in line for s in NETWORK_TROUBLE)
        ]
        if trouble:
            pytest.skip(
                "pre-commit could not pip-install promptaudit's hook environment (no network "
                "access to PyPI?): " + trouble[-1][:200]
            )
        pytest.fail("pre-commit install-hooks failed:\n" + log)
    print(f"\npre-commit hook environment installed in {seconds:.1f} s")
    return Framework(env, config)


def test_commit_removing_a_guardrail_is_blocked_at_commit_msg(
    framework: Framework, tmp_path: Path
) -> None:
    repo = framework.repo(tmp_path / "r")
    (repo / PROMPT_PATH).write_text(REMOVED)
    proc = framework.git(repo, "commit", "-qam", "tidy the prompt")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "promptaudit (guardrail changes need a named reviewer's approval)" in out
    assert "Failed" in out
    assert "prompts/support.md:8  guardrail-removed  minors  (critical)" in out
    assert framework.git(repo, "rev-list", "--count", "HEAD").stdout == "1\n"


def test_commit_with_an_allowed_reviewers_trailer_passes(
    framework: Framework, tmp_path: Path
) -> None:
    repo = framework.repo(tmp_path / "r")
    (repo / PROMPT_PATH).write_text(REMOVED)
    proc = framework.git(repo, "commit", "-qam", "drop the rule", "-m", ALICE_APPROVES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "promptaudit (guardrail changes need a named reviewer's approval)....." in proc.stderr
    assert proc.stderr.rstrip().endswith("Passed")
    assert framework.git(repo, "rev-list", "--count", "HEAD").stdout == "2\n"


def test_deleting_a_whole_prompt_file_is_blocked(framework: Framework, tmp_path: Path) -> None:
    repo = framework.repo(tmp_path / "r")
    framework.git(repo, "rm", "-q", PROMPT_PATH)
    proc = framework.git(repo, "commit", "-q", "-m", "retire the support prompt")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "prompts/support.md:8  guardrail-removed  minors  (critical)" in out
    assert "guardrail-removed  confidentiality" in out


def test_push_and_manual_stages_review_the_range(framework: Framework, tmp_path: Path) -> None:
    repo = framework.repo(tmp_path / "r")
    server = tmp_path / "server.git"
    framework.git(tmp_path, "init", "-q", "--bare", "-b", "main", str(server))
    framework.git(repo, "remote", "add", "origin", str(server))
    assert framework.git(repo, "push", "-q", "origin", "main").returncode == 0
    base = framework.git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / PROMPT_PATH).write_text(REMOVED)
    framework.git(repo, "commit", "-q", "--no-verify", "-am", "drop the rule")

    proc = framework.git(repo, "push", "origin", "main")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "promptaudit (pushed commits keep their guardrails)" in out
    assert f"promptaudit: refs/heads/main ({base[:12]}.." in out
    assert "guardrail-removed  minors" in out
    assert framework.git(server, "rev-parse", "main").stdout.strip() == base

    proc = framework.run(
        repo,
        sys.executable,
        "-m",
        "pre_commit",
        "run",
        "--hook-stage",
        "manual",
        "promptaudit-push",
        "--from-ref",
        base,
        "--to-ref",
        "HEAD",
    )
    assert proc.returncode == 1
    assert "guardrail-removed  minors" in proc.stdout


def test_a_config_that_filters_out_the_message_file_fails_closed(
    framework: Framework, tmp_path: Path
) -> None:
    repo = framework.repo(tmp_path / "r")
    (repo / ".pre-commit-config.yaml").write_text("files: ^src/\n" + framework.config)
    (repo / PROMPT_PATH).write_text(REMOVED)
    proc = framework.git(repo, "commit", "-qam", "drop the rule", "-m", ALICE_APPROVES)
    assert proc.returncode == 1
    assert "so approval trailers in the message were not read" in proc.stderr
