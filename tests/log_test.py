"""`promptaudit log` as an auditor relies on it: mistyped options and cut-off histories fail
closed, and an approval given after a change, as the gates accept it, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptaudit.cli import main
from tests.conftest import GitRepo
from tests.history_test import ALICE, DANA, POLICY, PROMPT

ERROR = 2


@pytest.fixture
def removed(repo: GitRepo) -> GitRepo:
    """A prompt, then a commit that drops its minors rule without any approval."""
    repo.write("promptaudit.toml", POLICY)
    repo.write("prompts/a.md", PROMPT)
    repo.commit("add the prompt", author=DANA)
    repo.write(
        "prompts/a.md", PROMPT.replace("- Never produce sexual content involving minors.\n", "")
    )
    repo.commit("drop the minors rule", author=DANA)
    return repo


def _log(repo: GitRepo, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["log", "-C", str(repo.path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--since", "typo-branch"], "--since 'typo-branch' is neither a revision nor a date"),
        (["--until", "nosuchrev"], "--until 'nosuchrev' is neither a revision nor a date"),
        (["--since", "last tuesdya"], "--since 'last tuesdya' is neither a revision nor a date"),
        (["--since", "!!"], "--since '!!' is neither a revision nor a date"),
        (["--guardrail", "minor"], "--guardrail 'minor' names no guardrail or forbidden entry"),
    ],
)
def test_mistyped_options_fail_closed(
    removed: GitRepo, capsys: pytest.CaptureFixture[str], args: list[str], cause: str
) -> None:
    code, out = _log(removed, capsys, "--unapproved", *args)
    assert code == ERROR
    assert cause in out
    assert "hint:" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "2 weeks ago"],
        ["--since", "2020-01-31"],
        ["--since", "2020-01-31T10:00:00Z"],
        ["--until", "yesterday"],
        ["--since", "Jan 5 2020"],
        ["--guardrail", "minors"],
        # An id of the built-in default policy, or of an earlier version of the policy file.
        ["--guardrail", "self-harm"],
    ],
)
def test_dates_and_known_ids_are_taken(
    removed: GitRepo, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, _ = _log(removed, capsys, *args)
    assert code == 0


def test_an_id_only_an_old_policy_had_is_known(
    removed: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    removed.write("promptaudit.toml", POLICY.replace('id = "confidentiality"', 'id = "secrecy"'))
    removed.commit("rename a guardrail", author=ALICE)
    code, out = _log(removed, capsys, "--guardrail", "confidentiality", "--format", "json")
    assert code == 0
    assert [e["kind"] for e in json.loads(out)["events"]][-1] == "policy-weakened"


def test_a_shallow_clone_fails_closed(
    removed: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = tmp_path / "shallow"
    removed.git("clone", "-q", "--depth", "1", f"file://{removed.path}", str(clone))
    code, out = _log(GitRepo(clone), capsys, "--unapproved")
    assert code == ERROR
    assert "is not in this shallow clone" in out
    assert "git fetch --unshallow" in out
    # Bounded to the commits the clone holds, the walk needs nothing it lacks.
    code, _ = _log(GitRepo(clone), capsys, "--since", "HEAD")
    assert code == 0


def test_an_approval_only_commit_after_the_change_counts(
    removed: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _log(removed, capsys, "--unapproved")
    assert code == 1
    approval = removed.commit(f"Approve\n\nGuardrail-Approved-by: {ALICE}\n", author=ALICE)
    code, out = _log(removed, capsys, "--format", "json")
    event = json.loads(out)["events"][-1]
    assert (event["subject"], event["kind"], event["guardrail"]) == (
        "drop the minors rule",
        "guardrail-removed",
        "minors",
    )
    assert event["approved"] is True
    assert event["approved_by"] == [ALICE]
    assert f"approved later, in {approval[:12]}" in event["approval_notes"]
    code, out = _log(removed, capsys, "--unapproved")
    assert code == 0
    assert "No guardrail events." in out


def test_a_later_approval_covers_the_change_only_as_it_then_stood(
    removed: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the rule is back in a weaker form, the approval covers a weakening, not the removal."""
    text = (removed.path / "prompts/a.md").read_text()
    weaker = "- Avoid sexual content involving minors unless asked.\n"
    removed.write("prompts/a.md", text.replace("## Safety\n\n", "## Safety\n\n" + weaker))
    removed.commit("bring a minors rule back", author=DANA)
    removed.commit(f"Approve\n\nGuardrail-Approved-by: {ALICE}\n", author=ALICE)
    code, out = _log(removed, capsys, "--unapproved", "--format", "json")
    assert code == 1
    assert [(e["subject"], e["kind"]) for e in json.loads(out)["events"]] == [
        ("drop the minors rule", "guardrail-removed")
    ]


def test_an_approval_from_an_author_of_the_change_does_not_count_later(
    removed: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    removed.commit(f"Approve\n\nGuardrail-Approved-by: {DANA}\n", author=ALICE)
    code, out = _log(removed, capsys, "--unapproved", "--format", "json")
    assert code == 1
    assert [e["subject"] for e in json.loads(out)["events"]] == ["drop the minors rule"]
