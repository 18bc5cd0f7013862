"""Replay xAI's published Grok prompt history and hold the figures it gave.

The corpus is AGPL-licensed data kept next to the repository (`../shared/corpus`), never
copied into it: these tests read it in place and skip where it is absent, as in a user's
clone. The figures are those recorded in benchmarks/README.md; a change to the audit engine
that moves them must update both, with a reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from benchmarks.replay_corpus import Replay, replay_history
from promptaudit.importer import import_history

if TYPE_CHECKING:
    from collections.abc import Iterator

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
GROK = CORPUS / "grok-prompts" / "history.jsonl"

if not GROK.is_file():
    pytest.skip(f"no prompt corpus at {CORPUS}", allow_module_level=True)


@pytest.fixture(scope="module")
def grok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:  # the same isolation as conftest's, once per module
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            mp.delenv(key, raising=False)
        yield replay_history(GROK, "grok-prompts/history.jsonl", tmp_path_factory.mktemp("grok"))


def test_every_grok_commit_is_imported_and_audited(grok: Replay) -> None:
    assert (grok.changes, grok.baselines, grok.errors) == (14, 0, [])


def test_grok_blocking_findings_by_kind(grok: Replay) -> None:
    assert grok.blocking == {"forbidden-added": 15}
    by_rule = Counter(a.finding.guardrail for a in grok.findings)
    assert by_rule == {"politically-incorrect": 7, "no-restrictions": 6, "never-refuse": 2}
    assert len({a.source_id for a in grok.findings}) == 7  # of the 14 commits
    assert grok.warnings == {"guardrail-added": 17, "unlisted-guardrail-removed": 1}


def test_the_july_2025_politically_incorrect_line_blocks(grok: Replay) -> None:
    july = [
        a
        for a in grok.findings
        if a.date.startswith("2025-07-06")
        and a.finding.path == "ask_grok_system_prompt.j2"
        and a.finding.guardrail == "politically-incorrect"
    ]
    assert len(july) == 1
    f = july[0].finding
    assert (f.kind, f.guardrail, f.blocking) == ("forbidden-added", "politically-incorrect", True)
    assert f.after is not None
    assert "politically incorrect" in f.after
    assert july[0].source_id == "535aa67a6221ce4928761335a38dea8e678d8501"


def test_its_return_on_july_12_blocks_again(grok: Replay) -> None:
    returned = [a for a in grok.findings if a.source_id.startswith("82a9ce73")]
    assert [(a.finding.kind, a.finding.guardrail) for a in returned] == [
        ("forbidden-added", "politically-incorrect")
    ]


@pytest.mark.parametrize(
    ("name", "changes", "baselines"),
    [
        ("grok-prompts/pull_requests.jsonl", 74, 32),
        ("asgeirtj-system_prompts_leaks/history.jsonl", 85, 8),
        ("asgeirtj-system_prompts_leaks/official_anthropic_version_pairs.jsonl", 26, 26),
    ],
)
def test_the_other_histories_import_as_they_are(
    tmp_path: Path, name: str, changes: int, baselines: int
) -> None:
    # Only the import: the held-out files' findings are read once, at the end, by hand.
    result = import_history(str(CORPUS / name), str(tmp_path / "repo"))
    assert (len(result.commits), result.baselines) == (changes, baselines)
