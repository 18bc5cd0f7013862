"""`policy_weakenings`: every way a policy change makes the rules laxer, judged on text."""

from __future__ import annotations

import pytest

from promptaudit.findings import POLICY_WEAKENED, Finding
from promptaudit.policy import Policy
from promptaudit.policy_diff import policy_weakenings
from promptaudit.policy_load import load_policy

BASE = """\
prompts = ["prompts/**/*.md", "agents/*.yaml"]
block_at = "medium"
strict = true
prompt_keys = ["system", "instructions"]

[reviewers]
safety = ["Alice <alice@example.com>", "bob@example.com"]
legal = ["Carol <carol@example.com>"]

[[guardrail]]
id = "minors"
description = "Refuse any sexual content involving minors."
severity = "critical"
phrases = ["sexual content involving minors", "sexualize minors"]
patterns = ['minors?\\W.{0,40}sexual', 'csam']
paths = ["prompts/**", "agents/*.yaml"]
required = true
reviewers = ["safety"]

[[guardrail]]
id = "tone"
severity = "low"
phrases = ["be polite"]
reviewers = ["legal"]

[[forbidden]]
id = "politically-incorrect"
phrases = ["politically incorrect"]
severity = "high"
reviewers = ["safety", "dave@example.com"]
"""
# Every HEAD starts with two more lines than BASE, so a line taken from BASE's text where
# HEAD's is meant (or the reverse) is off by two.
HEAD_PREFIX = "# Policy, as edited.\n\n"
# HEAD's lines of what BASE has on lines 1-4, 11 and 27.
PROMPTS, BLOCK_AT, STRICT, PROMPT_KEYS, MINORS, FORBIDDEN = 3, 4, 5, 6, 13, 29

PATHS = (
    "prompts/a.md",
    "prompts/sub/b.md",
    "agents/bot.yaml",
    "README.md",
    "src/app.py",
    "promptaudit.toml",
)
SAFETY = ("Alice <alice@example.com>", "bob@example.com")
FORBIDDEN_REVIEWERS = (*SAFETY, "dave@example.com")
EVERYONE = (*SAFETY, "Carol <carol@example.com>", "dave@example.com")


def _policy(text: str, rev: str) -> Policy:
    return load_policy(text, f"promptaudit.toml@{rev}", path="promptaudit.toml")


def _head(*edits: tuple[str, str]) -> str:
    """BASE with each (old, new) applied (OLD must occur exactly once), behind HEAD_PREFIX."""
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return HEAD_PREFIX + text


def _weakened(
    guardrail: str | None,
    severity: str,
    line: int,
    message: str,
    reviewers: tuple[str, ...],
    *,
    before: str | None = None,
    after: str | None = None,
    blocking: bool = True,
    path: str = "promptaudit.toml",
) -> Finding:
    return Finding(
        kind=POLICY_WEAKENED,
        guardrail=guardrail,
        severity=severity,
        path=path,
        line=line,
        before=before,
        after=after,
        blocking=blocking,
        message=message,
        required_reviewers=reviewers,
    )


def test_base_and_unchanged_head_load() -> None:
    base = _policy(BASE, "base")
    assert [g.id for g in base.guardrails] == ["minors", "tone"]
    assert policy_weakenings(base, _policy(_head(), "head"), PATHS) == []


def test_policy_deleted() -> None:
    found = policy_weakenings(_policy(BASE, "base"), None, PATHS)
    assert found == [
        _weakened(None, "critical", 1, "the policy file promptaudit.toml was deleted.", EVERYONE)
    ]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(
            _head(
                ('[[forbidden]]\nid = "politically-incorrect"\n', '[[forbidden]]\nid = "loosen"\n')
            ),
            [
                # The entry is gone from HEAD: the line is where it was at BASE.
                _weakened(
                    "politically-incorrect",
                    "high",
                    27,
                    "forbidden entry 'politically-incorrect' was removed from the policy.",
                    FORBIDDEN_REVIEWERS,
                    before="politically-incorrect",
                ),
            ],
            id="forbidden-entry-removed",
        ),
        pytest.param(
            _head(('[[guardrail]]\nid = "minors"\n', '[[guardrail]]\nid = "minors-v2"\n')),
            [
                _weakened(
                    "minors",
                    "critical",
                    11,
                    "guardrail 'minors' was removed from the policy.",
                    SAFETY,
                    before="Refuse any sexual content involving minors.",
                ),
            ],
            id="guardrail-removed",
        ),
        pytest.param(
            _head(('[[guardrail]]\nid = "tone"\n', '[[forbidden]]\nid = "tone"\n')),
            [
                _weakened(
                    "tone",
                    "low",
                    21,
                    "guardrail 'tone' was removed from the policy.",
                    (),
                    before="tone",
                    blocking=False,  # low < block_at medium; nobody needs to approve
                ),
            ],
            id="guardrail-turned-into-forbidden-is-removed",
        ),
        pytest.param(
            _head(
                (
                    '"sexual content involving minors", "sexualize minors"',
                    '"sexual content involving minors"',
                )
            ),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': phrases removed: sexualize minors.",
                    SAFETY,
                ),
            ],
            id="phrase-removed",
        ),
        pytest.param(
            _head(("'minors?\\W.{0,40}sexual', 'csam'", "'minors?\\W.{0,40}sexual'")),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': patterns removed: csam.",
                    SAFETY,
                ),
            ],
            id="pattern-removed",
        ),
        pytest.param(
            _head(('severity = "high"', 'severity = "medium"')),
            [
                _weakened(
                    "politically-incorrect",
                    "high",
                    FORBIDDEN,
                    "forbidden entry 'politically-incorrect': severity lowered from 'high' to 'medium'.",
                    FORBIDDEN_REVIEWERS,
                ),
            ],
            id="severity-lowered",
        ),
        pytest.param(
            _head(('block_at = "medium"', 'block_at = "high"')),
            [
                _weakened(
                    None,
                    "critical",
                    BLOCK_AT,
                    "block_at was raised from 'medium' to 'high'.",
                    EVERYONE,
                    before="medium",
                    after="high",
                ),
            ],
            id="block-at-raised",
        ),
        pytest.param(
            _head(("strict = true", "strict = false")),
            [
                _weakened(
                    None,
                    "critical",
                    STRICT,
                    "strict was turned off.",
                    EVERYONE,
                    before="true",
                    after="false",
                ),
            ],
            id="strict-turned-off",
        ),
        pytest.param(
            _head(("strict = true\n", "")),
            [
                # The key is gone: nothing better to point at than the top of the file.
                _weakened(
                    None,
                    "critical",
                    1,
                    "strict was turned off.",
                    EVERYONE,
                    before="true",
                    after="false",
                ),
            ],
            id="strict-key-deleted",
        ),
        pytest.param(
            _head(('prompt_keys = ["system", "instructions"]', 'prompt_keys = ["system"]')),
            [
                _weakened(
                    None,
                    "critical",
                    PROMPT_KEYS,
                    "prompt_keys no longer include ['instructions'].",
                    EVERYONE,
                ),
            ],
            id="prompt-keys-narrowed",
        ),
        pytest.param(
            _head(
                ('prompts = ["prompts/**/*.md", "agents/*.yaml"]', 'prompts = ["prompts/**/*.md"]')
            ),
            [
                _weakened(
                    None,
                    "critical",
                    PROMPTS,
                    "prompts no longer cover agents/bot.yaml, so they would not be audited.",
                    EVERYONE,
                ),
            ],
            id="prompts-narrowed",
        ),
        pytest.param(
            _head(
                ('prompts = ["prompts/**/*.md", "agents/*.yaml"]', 'prompts = ["agents/*.yaml"]')
            ),
            [
                _weakened(
                    None,
                    "critical",
                    PROMPTS,
                    "prompts no longer cover prompts/a.md, prompts/sub/b.md, so they would not be "
                    "audited.",
                    EVERYONE,
                ),
            ],
            id="prompts-narrowed-two-paths-sorted",
        ),
        pytest.param(
            _head(('paths = ["prompts/**", "agents/*.yaml"]', 'paths = ["prompts/**"]')),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': paths no longer cover agents/bot.yaml.",
                    SAFETY,
                ),
            ],
            id="guardrail-paths-narrowed",
        ),
        pytest.param(
            _head(
                (
                    'paths = ["prompts/**", "agents/*.yaml"]',
                    'paths = ["prompts/*.md", "agents/*.yaml"]',
                )
            ),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': paths no longer cover prompts/sub/b.md.",
                    SAFETY,
                ),
            ],
            id="guardrail-paths-narrowed-one-folder-down",
        ),
        pytest.param(
            _head(("required = true", "required = false")),
            [
                _weakened(
                    "minors", "critical", MINORS, "guardrail 'minors': no longer required.", SAFETY
                ),
            ],
            id="required-turned-off",
        ),
        pytest.param(
            _head(("required = true\n", "")),
            [
                _weakened(
                    "minors", "critical", MINORS, "guardrail 'minors': no longer required.", SAFETY
                ),
            ],
            id="required-key-deleted",
        ),
        pytest.param(
            _head(("required = true\n", "required = true\ndirective = true\n")),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': now matches only directive clauses.",
                    SAFETY,
                ),
            ],
            id="directive-turned-on",
        ),
        pytest.param(
            _head(('"bob@example.com"]', '"bob@example.com", "Mallory <mallory@example.com>"]')),
            [
                # Everyone who can approve through the group is now someone more.
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': who may approve changed (added mallory@example.com).",
                    SAFETY,
                ),
                _weakened(
                    "politically-incorrect",
                    "high",
                    FORBIDDEN,
                    "forbidden entry 'politically-incorrect': who may approve changed "
                    "(added mallory@example.com).",
                    FORBIDDEN_REVIEWERS,
                ),
            ],
            id="reviewer-added-to-group",
        ),
        pytest.param(
            _head(('reviewers = ["safety", "dave@example.com"]', 'reviewers = ["safety"]')),
            [
                _weakened(
                    "politically-incorrect",
                    "high",
                    FORBIDDEN,
                    "forbidden entry 'politically-incorrect': who may approve changed "
                    "(removed dave@example.com).",
                    FORBIDDEN_REVIEWERS,
                ),
            ],
            id="reviewer-removed-from-entry",
        ),
        pytest.param(
            _head(('reviewers = ["safety", "dave@example.com"]', 'reviewers = ["legal"]')),
            [
                _weakened(
                    "politically-incorrect",
                    "high",
                    FORBIDDEN,
                    "forbidden entry 'politically-incorrect': who may approve changed (added "
                    "carol@example.com; removed alice@example.com, bob@example.com, "
                    "dave@example.com).",
                    FORBIDDEN_REVIEWERS,
                ),
            ],
            id="reviewers-replaced",
        ),
        pytest.param(
            _head(
                ('severity = "critical"', 'severity = "high"'),
                ('"sexual content involving minors", "sexualize minors"', '"sexualize minors"'),
            ),
            [
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': phrases removed: sexual content involving minors.",
                    SAFETY,
                ),
                _weakened(
                    "minors",
                    "critical",
                    MINORS,
                    "guardrail 'minors': severity lowered from 'critical' to 'high'.",
                    SAFETY,
                ),
            ],
            id="two-weakenings-of-one-entry",
        ),
    ],
)
def test_each_weakening_is_one_exact_finding(head: str, expected: list[Finding]) -> None:
    found = policy_weakenings(_policy(BASE, "base"), _policy(head, "head"), PATHS)
    assert found == expected


def test_weakening_of_a_low_entry_does_not_block_and_needs_no_reviewer() -> None:
    head = _head(('phrases = ["be polite"]', 'phrases = ["be nice"]'))
    found = policy_weakenings(_policy(BASE, "base"), _policy(head, "head"), PATHS)
    assert found == [
        _weakened(
            "tone", "low", 23, "guardrail 'tone': phrases removed: be polite.", (), blocking=False
        )
    ]


def test_base_block_at_decides_blocking_not_heads() -> None:
    base = _policy(BASE.replace('block_at = "medium"', 'block_at = "critical"'), "base")
    head = _policy(_head(('severity = "high"', 'severity = "low"')), "head")
    found = policy_weakenings(base, head, PATHS)
    assert [(f.guardrail, f.severity, f.blocking, f.required_reviewers) for f in found] == [
        ("politically-incorrect", "high", False, ())
    ]


def test_prompts_narrowed_lists_five_paths_then_a_count() -> None:
    paths = [f"agents/bot{i}.yaml" for i in range(7)]
    head = _head(
        ('prompts = ["prompts/**/*.md", "agents/*.yaml"]', 'prompts = ["prompts/**/*.md"]')
    )
    found = policy_weakenings(_policy(BASE, "base"), _policy(head, "head"), paths)
    assert [(f.guardrail, f.line, f.message) for f in found] == [
        (
            None,
            PROMPTS,
            "prompts no longer cover agents/bot0.yaml, agents/bot1.yaml, agents/bot2.yaml, "
            "agents/bot3.yaml, agents/bot4.yaml and 2 more, so they would not be audited.",
        )
    ]


def test_findings_carry_heads_path_and_removals_bases() -> None:
    base = _policy(BASE, "base")
    head = load_policy(
        _head(("strict = true\n", ""), ('id = "tone"', 'id = "tone-v2"')),
        ".promptaudit.toml@head",
        path=".promptaudit.toml",
    )
    found = policy_weakenings(base, head, PATHS)
    assert [(f.guardrail, f.path, f.line) for f in found] == [
        (None, ".promptaudit.toml", 1),
        ("tone", "promptaudit.toml", 21),
    ]


EXTENDING = """\
extends = "default"
prompts = ["prompts/**/*.md"]
"""


def test_disabling_a_built_in_entry_points_at_disable() -> None:
    base = _policy(EXTENDING, "base")
    head = _policy(EXTENDING + '\n# not for us\ndisable = ["honesty"]\n', "head")
    found = policy_weakenings(base, head, PATHS)
    assert found == [
        _weakened(
            "honesty",
            "medium",
            5,
            "guardrail 'honesty' was removed from the policy.",
            (),
            before="Be honest: do not lie, fabricate facts or sources, or deceive the user.",
        )
    ]


def test_dropping_extends_removes_every_built_in_entry() -> None:
    base = _policy(EXTENDING, "base")
    head = _policy('prompts = ["prompts/**/*.md"]\n', "head")
    found = policy_weakenings(base, head, PATHS)
    assert [(f.guardrail, f.severity, f.line, f.blocking) for f in found] == [
        ("minors-sexual-content", "critical", 1, True),
        ("non-consensual-intimate-imagery", "critical", 1, True),
        ("self-harm", "critical", 1, True),
        ("mass-harm-weapons", "critical", 1, True),
        ("hate-harassment", "high", 1, True),
        ("private-personal-data", "high", 1, True),
        ("system-prompt-confidentiality", "high", 1, True),
        ("instruction-hierarchy", "high", 1, True),
        ("honesty", "medium", 1, True),
        ("override-instructions", "critical", 1, True),
        ("no-restrictions", "critical", 1, True),
        ("never-refuse", "high", 1, True),
        ("politically-incorrect", "high", 1, True),
    ]


# -- changes that make the policy stricter, or only look different -----------------------

REFORMATTED = """\
# Reformatted: keys and tables reordered, comments and whitespace added, other quotes.
strict = true
block_at = 'medium'
prompt_keys = [
    "instructions",  # YAML `instructions:` values
    "system",
]
prompts = ['agents/*.yaml', 'prompts/**/*.md']

[[forbidden]]
severity = "high"
reviewers = ["dave@example.com", "safety"]
phrases = ["Politically  INCORRECT"]
id = "politically-incorrect"

[[guardrail]]
id = "tone"
phrases = ["Be polite!"]
reviewers = ['legal']
severity = "low"

[reviewers]
legal = ["carol@example.com"]  # same person, no display name
safety = ["BOB@example.com", "Alice Reviewer <ALICE@example.com>"]

[[guardrail]]
reviewers = ["safety"]
required = true
paths = ["agents/*.yaml", "prompts/**"]
patterns = ['csam', 'minors?\\W.{0,40}sexual']
phrases = ["sexualize minors", "Sexual content involving **minors**"]
severity = "critical"
description = "Refuse any sexual content involving minors."
id = "minors"
"""


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(
            _head(
                (
                    "[[forbidden]]",
                    '[[guardrail]]\nid = "new"\nphrases = ["be kind"]\n\n[[forbidden]]',
                )
            ),
            id="guardrail-added",
        ),
        pytest.param(
            _head(
                (
                    '[[forbidden]]\nid = "politically-incorrect"',
                    '[[forbidden]]\nid = "new"\nphrases = ["x"]\n\n[[forbidden]]\nid = "politically-incorrect"',
                )
            ),
            id="forbidden-added",
        ),
        pytest.param(
            _head(('phrases = ["be polite"]', 'phrases = ["be polite", "be kind"]')),
            id="phrase-added",
        ),
        pytest.param(_head(("'csam'", "'csam', 'child abuse'")), id="pattern-added"),
        pytest.param(_head(('severity = "high"', 'severity = "critical"')), id="severity-raised"),
        pytest.param(_head(('block_at = "medium"', 'block_at = "low"')), id="block-at-lowered"),
        pytest.param(
            # README.md comes into scope: more is audited, not less.
            _head(
                (
                    'prompts = ["prompts/**/*.md", "agents/*.yaml"]',
                    'prompts = ["**/*.md", "agents/**"]',
                )
            ),
            id="prompts-widened",
        ),
        pytest.param(
            # agents/other.yaml would fall out of scope, but no such file exists.
            _head(
                (
                    'prompts = ["prompts/**/*.md", "agents/*.yaml"]',
                    'prompts = ["prompts/**/*.md", "agents/bot.yaml"]',
                )
            ),
            id="prompts-narrowed-without-losing-a-file",
        ),
        pytest.param(
            _head(('paths = ["prompts/**", "agents/*.yaml"]\n', "")), id="paths-widened-to-all"
        ),
        pytest.param(
            _head(
                (
                    'prompt_keys = ["system", "instructions"]',
                    'prompt_keys = ["system", "instructions", "developer"]',
                )
            ),
            id="prompt-keys-widened",
        ),
        pytest.param(
            _head(('id = "tone"\n', 'id = "tone"\nrequired = true\n')), id="required-turned-on"
        ),
        pytest.param(
            _head(
                (
                    '[[guardrail]]\nid = "tone"\n',
                    '[[guardrail]]\nid = "tone"\ndescription = "Tone."\n',
                )
            ),
            id="description-added",
        ),
        pytest.param(
            _head(('reviewers = ["legal"]', 'reviewers = ["Carol <CAROL@example.com>"]')),
            id="group-replaced-by-same-email",
        ),
        pytest.param(REFORMATTED, id="reformatted"),
    ],
)
def test_no_finding_for_a_change_that_weakens_nothing(head: str) -> None:
    assert policy_weakenings(_policy(BASE, "base"), _policy(head, "head"), PATHS) == []


def test_no_finding_for_turning_strict_on() -> None:
    base = _policy(BASE.replace("strict = true\n", ""), "base")
    assert base.strict is False
    assert policy_weakenings(base, _policy(_head(), "head"), PATHS) == []
