"""The hook runs on every commit: its import cost is a feature, kept by these tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import GitRepo
from tests.review_test import POLICY, PROMPT

PROBE = """
import sys
from promptaudit.entry import main
code = main(["check"])
import json
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

HEAVY = ("click", "tabulate", "deepdiff", "yaml", "git", "jsonschema", "importlib.metadata")


def probe(repo: GitRepo) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=repo.path, capture_output=True, text=True, check=True
    )
    data = json.loads(proc.stdout.splitlines()[-1])
    return data["code"], set(data["modules"])


def test_check_with_no_prompt_staged_imports_nothing_heavy(repo: GitRepo) -> None:
    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/support.md", PROMPT)
    repo.commit("add")
    repo.write("src/app.py", "print('hello')\n")
    repo.git("add", "-A")
    code, modules = probe(repo)
    assert code == 0
    assert [m for m in HEAVY if m in modules] == []
    # Nothing to audit: the audit engine itself stays unloaded.
    assert [m for m in ("promptaudit.audit", "promptaudit.clauses") if m in modules] == []


def test_check_with_a_prompt_staged_still_imports_nothing_heavy(repo: GitRepo) -> None:
    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/support.md", PROMPT)
    repo.commit("add")
    repo.write("prompts/support.md", PROMPT.replace("keep answers short", "keep them short"))
    repo.git("add", "-A")
    code, modules = probe(repo)
    assert code == 0
    # gitpython would be allowed here; the staged path does not need it, so it stays out too.
    assert [m for m in HEAVY if m in modules] == []


def test_blocked_check_renders_without_tabulate(repo: GitRepo) -> None:
    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/support.md", PROMPT)
    repo.commit("add")
    repo.write(
        "prompts/support.md",
        PROMPT.replace("- Never fabricate facts.\n", "- Be politically incorrect.\n"),
    )
    repo.git("add", "-A")
    code, modules = probe(repo)
    assert code == 1
    assert "tabulate" not in modules
    assert "deepdiff" not in modules


def test_staged_yaml_prompt_imports_yaml_only_then(repo: GitRepo) -> None:
    repo.write("promptaudit.toml", POLICY)
    repo.write("agents/a.yaml", "system: |\n  Be kind.\n")
    repo.commit("add")
    repo.write("agents/a.yaml", "system: |\n  Be very kind.\n")
    repo.git("add", "-A")
    code, modules = probe(repo)
    assert code == 0
    assert "yaml" in modules
    assert "deepdiff" not in modules


def test_fast_path_and_full_cli_agree(repo: GitRepo) -> None:
    """The click-free reading of `check` gives what the click interface gives."""
    from promptaudit.cli import main as cli_main
    from promptaudit.entry import main as entry_main

    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/support.md", PROMPT)
    repo.commit("add")
    repo.write(
        "prompts/support.md",
        PROMPT.replace("- Never fabricate facts.\n", "- Be politically incorrect.\n"),
    )
    repo.git("add", "-A")
    for args in (["check"], ["check", "--warn-only"], ["check", "-C", str(repo.path)]):
        assert entry_main([*args, "-C", str(repo.path)]) == cli_main([*args, "-C", str(repo.path)])
    assert entry_main(["check", "--bogus", "-C", str(repo.path)]) == 2  # handed to click


def test_no_prompt_staged_skips_the_policy_model_and_the_review(repo: GitRepo) -> None:
    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/support.md", PROMPT)
    repo.commit("add")
    repo.write("src/app.py", "print('hello')\n")
    repo.git("add", "-A")
    code, modules = probe(repo)
    assert code == 0
    skipped = ("promptaudit.review", "promptaudit.policy", "promptaudit.findings", "dataclasses")
    assert [m for m in skipped if m in modules] == []


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("CODEOWNERS", "* owner@example.com\n"),  # who approves under the built-in policy
        (".promptaudit/approvals/x.json", "{}\n"),
        ("promptaudit.toml", 'prompts = ["nothing/**"]\n'),
        ("prompts/support.md", "Be politically incorrect.\n"),
    ],
)
def test_quick_path_declines_whatever_could_matter(repo: GitRepo, path: str, text: str) -> None:
    """Each of these must reach the full review: the quick path and the CLI agree."""
    from promptaudit.cli import main as cli_main
    from promptaudit.entry import main as entry_main
    from promptaudit.git import Repository
    from promptaudit.quick import nothing_to_audit

    repo.write("prompts/support.md", PROMPT)
    repo.write("CODEOWNERS", "* dana@example.com\n")
    repo.commit("add")
    repo.write(path, text)
    repo.git("add", "-A")
    with Repository(repo.path) as r:
        assert nothing_to_audit(r) is False
    args = ["check", "-C", str(repo.path)]
    assert entry_main(args) == cli_main(args)


def test_quick_path_needs_a_head(repo: GitRepo) -> None:
    from promptaudit.git import Repository
    from promptaudit.quick import nothing_to_audit

    repo.write("src/app.py", "x = 1\n")
    repo.git("add", "-A")
    with Repository(repo.path) as r:
        assert nothing_to_audit(r) is False
