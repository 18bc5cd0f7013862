"""Every renderer is a pure function of a `Review`, so these tests compare whole strings."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import promptaudit
from promptaudit.findings import (
    GUARDRAIL_ADDED,
    GUARDRAIL_MISSING,
    GUARDRAIL_REMOVED,
    GUARDRAIL_WEAKENED,
    POLICY_WEAKENED,
    UNLISTED_GUARDRAIL_REMOVED,
    Finding,
    Review,
)
from promptaudit.report import FORMATS, render, render_check, render_notice

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

BASE = "0123456789abcdef0123456789abcdef01234567"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"

REMOVED = Finding(
    kind=GUARDRAIL_REMOVED,
    guardrail="no-pii",
    severity="high",
    path="prompts/system.md",
    line=12,
    before="Never share a customer's personal data.",
    after=None,
    blocking=True,
    message="Guardrail no-pii was removed.",
    required_reviewers=("Sam Sec <sam@example.com>",),
    anchor_line=11,
)
WEAKENED_APPROVED = Finding(
    kind=GUARDRAIL_WEAKENED,
    guardrail="refuse-weapons",
    severity="critical",
    path="prompts/tone.md",
    line=3,
    before="You must refuse.",
    after="You should refuse.",
    blocking=True,
    message="'must' became 'should'.",
    approved_by=("Ada Lead <ada@example.com>",),
    approved=True,
)
MISSING = Finding(
    kind=GUARDRAIL_MISSING,
    guardrail="cite-sources",
    severity="medium",
    path="prompts/tone.md",
    line=1,
    before=None,
    after=None,
    blocking=False,
    message="Guardrail cite-sources is not in this prompt.",
)
ADDED = Finding(
    kind=GUARDRAIL_ADDED,
    guardrail=None,
    severity="low",
    path="prompts/tone.md",
    line=9,
    before=None,
    after="Always be polite.",
    blocking=False,
    message="A guardrail was added.",
)

MIXED = Review(BASE, HEAD, "promptaudit.toml", (REMOVED, WEAKENED_APPROVED, MISSING, ADDED))
CLEAN = Review(BASE, HEAD, "promptaudit.toml", ())

APPROVAL_HINT = (
    'Ask one of them to approve, then add the trailer "Guardrail-Approved-by: Name <email>" '
    "to the commit message, or run: promptaudit review --staged"
)


def text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def review_of(*findings: Finding, head: str = HEAD) -> Review:
    return Review(BASE, head, "promptaudit.toml", findings)


# --- dispatch ---------------------------------------------------------------------------------


def test_formats_are_the_documented_four() -> None:
    assert FORMATS == ("table", "json", "markdown", "sarif")


@pytest.mark.parametrize("fmt", ["xml", "", "TABLE", "check"])
def test_unknown_format_raises_value_error(fmt: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"unknown format {fmt!r}")) as info:
        render(MIXED, fmt)
    assert str(info.value).endswith("choose one of: table, json, markdown, sarif")


# --- table ------------------------------------------------------------------------------------


def test_table_exact() -> None:
    assert render(MIXED, "table") == text(
        "promptaudit: 0123456789ab..fedcba987654  4 finding(s), 1 blocking",
        "policy: promptaudit.toml",
        "",
        "severity    kind                guardrail       where                 status",
        "----------  ------------------  --------------  --------------------  "
        "--------------------------------------",
        "high        guardrail-removed   no-pii          prompts/system.md:12  BLOCKING",
        "critical    guardrail-weakened  refuse-weapons  prompts/tone.md:3     "
        "approved by Ada Lead <ada@example.com>",
        "medium      guardrail-missing   cite-sources    prompts/tone.md:1     warning",
        "low         guardrail-added     -               prompts/tone.md:9     info",
        "",
        "prompts/system.md:12 guardrail-removed [no-pii]",
        "  Guardrail no-pii was removed.",
        "  - before: Never share a customer's personal data.",
        "  + after: (none)",
        "  approve: Sam Sec <sam@example.com>",
        "",
        "prompts/tone.md:3 guardrail-weakened [refuse-weapons]",
        "  'must' became 'should'.",
        "  - before: You must refuse.",
        "  + after: You should refuse.",
        "",
        "prompts/tone.md:1 guardrail-missing [cite-sources]",
        "  Guardrail cite-sources is not in this prompt.",
        "",
        "prompts/tone.md:9 guardrail-added",
        "  A guardrail was added.",
        "  - before: (none)",
        "  + after: Always be polite.",
        "",
        "BLOCKED: 1 blocking finding(s) need approval.",
    )


POLICY_WEAKENED_FINDING = Finding(
    kind=POLICY_WEAKENED,
    guardrail=None,
    severity="critical",
    path="promptaudit.toml",
    line=1,
    before=None,
    after=None,
    blocking=True,
    message="prompts no longer cover prompts/a.md, so they would not be audited.",
)


def test_a_finding_without_clauses_shows_no_empty_before_and_after() -> None:
    review = review_of(POLICY_WEAKENED_FINDING)
    assert render(review, "table").split("\n\n")[2] == text(
        "promptaudit.toml:1 policy-weakened",
        "  prompts no longer cover prompts/a.md, so they would not be audited.",
        "  approve: any reviewer other than the author",
    ).rstrip("\n")
    assert render_check(review) == text(
        "promptaudit: blocked: 1 guardrail change(s) need approval.",
        "",
        "promptaudit.toml:1  policy-weakened  -  (critical)",
        "    who may approve: any reviewer other than the author",
        "",
        APPROVAL_HINT,
    )


def test_table_without_findings_says_no_guardrail_changes() -> None:
    assert render(review_of(head=""), "table") == text(
        "promptaudit: 0123456789ab..INDEX  0 finding(s), 0 blocking",
        "policy: promptaudit.toml",
        "OK: no guardrail changes.",
    )


def test_table_with_every_block_approved_is_ok() -> None:
    out = render(review_of(WEAKENED_APPROVED, ADDED), "table")
    lines = out.splitlines()
    assert lines[0] == "promptaudit: 0123456789ab..fedcba987654  2 finding(s), 0 blocking"
    assert lines[-1] == "OK: nothing blocking."
    assert "approve:" not in out
    assert "BLOCKING" not in out


def test_table_counts_every_unapproved_block() -> None:
    second = dataclasses.replace(REMOVED, path="prompts/other.md", required_reviewers=())
    out = render(review_of(REMOVED, second, MISSING), "table")
    assert out.splitlines()[0] == (
        "promptaudit: 0123456789ab..fedcba987654  3 finding(s), 2 blocking"
    )
    assert "  approve: any reviewer other than the author\n" in out
    assert out.endswith("\nBLOCKED: 2 blocking finding(s) need approval.\n")


def test_table_truncates_long_text_and_flattens_lines() -> None:
    long_before = "word " * 100
    finding = dataclasses.replace(REMOVED, before=long_before, after="line one\n\n  line two")
    out = render(review_of(finding), "table")
    excerpt = ("word " * 40)[:199] + "…"
    assert f"  - before: {excerpt}\n" in out
    assert len(excerpt) == 200
    assert "  + after: line one line two\n" in out


def test_table_shows_control_characters_as_escapes() -> None:
    finding = dataclasses.replace(REMOVED, before="Be nice.\x1b[2J\x07")
    out = render(review_of(finding), "table")
    assert "  - before: Be nice.\\x1b[2J\\x07\n" in out
    assert "\x1b" not in out
    assert "\x07" not in out


def test_table_color_marks_blocking_red_and_warnings_yellow() -> None:
    out = render(MIXED, "table", color=True)
    row = "high        guardrail-removed   no-pii          prompts/system.md:12  "
    assert row + "\x1b[31m\x1b[1mBLOCKING\x1b[0m\n" in out
    assert "prompts/tone.md:1     \x1b[33mwarning\x1b[0m\n" in out
    assert "prompts/tone.md:9     info\n" in out
    assert out.endswith("\x1b[31m\x1b[1mBLOCKED: 1 blocking finding(s) need approval.\x1b[0m\n")


def test_table_has_no_escape_codes_without_color() -> None:
    assert "\x1b[" not in render(MIXED, "table")
    assert "\x1b[" not in render(MIXED, "table", color=False)


# --- JSON -------------------------------------------------------------------------------------


def test_json_round_trips_with_exactly_the_documented_keys() -> None:
    out = render(MIXED, "json")
    assert out.endswith("}\n")
    data = json.loads(out)
    assert data == MIXED.to_dict()
    assert list(data) == ["base", "head", "policy", "blocked", "findings"]
    assert data["blocked"] is True
    assert data["policy"] == "promptaudit.toml"
    assert list(data["findings"][0]) == [
        "kind",
        "guardrail",
        "severity",
        "path",
        "line",
        "before",
        "after",
        "blocking",
        "approved",
        "approved_by",
        "required_reviewers",
        "message",
        "approval_notes",
        "fingerprint",
    ]
    assert data["findings"][1]["approved_by"] == ["Ada Lead <ada@example.com>"]


def test_json_keeps_non_ascii_text_readable() -> None:
    finding = dataclasses.replace(REMOVED, before="Réponds poliment. 丁寧に")
    out = render(review_of(finding), "json")
    assert '"before": "Réponds poliment. 丁寧に",' in out
    assert out.startswith('{\n  "base": "0123456789abcdef0123456789abcdef01234567",\n')


# --- markdown ---------------------------------------------------------------------------------


def test_markdown_exact() -> None:
    assert render(MIXED, "markdown") == text(
        "### promptaudit",
        "",
        "**Blocked**: 1 blocking finding(s) need approval.",
        "",
        "Range 0123456789ab..fedcba987654, policy promptaudit.toml.",
        "",
        "| severity | kind | guardrail | location | status |",
        "| --- | --- | --- | --- | --- |",
        "| high | guardrail-removed | no-pii | prompts/system.md:12 | **BLOCKING** |",
        "| critical | guardrail-weakened | refuse-weapons | prompts/tone.md:3 "
        "| approved by Ada Lead &lt;ada@example.com&gt; |",
        "| medium | guardrail-missing | cite-sources | prompts/tone.md:1 | warning |",
        "| low | guardrail-added | - | prompts/tone.md:9 | info |",
        "",
        "<details>",
        "<summary>prompts/system.md:12 guardrail-removed no-pii (BLOCKING)</summary>",
        "",
        "Guardrail no-pii was removed.",
        "",
        "```diff",
        "- Never share a customer's personal data.",
        "```",
        "",
        "Who may approve: Sam Sec &lt;sam@example.com&gt;",
        "",
        "</details>",
        "",
        "<details>",
        "<summary>prompts/tone.md:3 guardrail-weakened refuse-weapons "
        "(approved by Ada Lead &lt;ada@example.com&gt;)</summary>",
        "",
        "'must' became 'should'.",
        "",
        "```diff",
        "- You must refuse.",
        "+ You should refuse.",
        "```",
        "",
        "Approved by: Ada Lead &lt;ada@example.com&gt;",
        "",
        "</details>",
    )


def test_markdown_passed_verdicts() -> None:
    assert render(CLEAN, "markdown") == text(
        "### promptaudit",
        "",
        "**Passed**: no guardrail changes.",
        "",
        "Range 0123456789ab..fedcba987654, policy promptaudit.toml.",
    )
    out = render(review_of(ADDED), "markdown")
    assert "\n**Passed**: nothing blocking.\n" in out
    assert "<details>" not in out


def test_markdown_escapes_pipes_in_cells() -> None:
    finding = dataclasses.replace(
        REMOVED, guardrail="a|b", path="prompts/x|y.md", required_reviewers=()
    )
    out = render(review_of(finding), "markdown")
    assert "| high | guardrail-removed | a\\|b | prompts/x\\|y.md:12 | **BLOCKING** |\n" in out
    assert "Who may approve: any reviewer other than the author\n" in out


def test_markdown_fence_is_longer_than_backticks_in_the_prompt() -> None:
    finding = dataclasses.replace(
        REMOVED,
        before="Reply with:\n```\nrm -rf /\n```\nand ````` five",
        after="Use `code` only.",
    )
    out = render(review_of(finding), "markdown")
    block = text(
        "``````diff",
        "- Reply with:",
        "- ```",
        "- rm -rf /",
        "- ```",
        "- and ````` five",
        "+ Use `code` only.",
        "``````",
    )
    assert block in out


@given(st.text(alphabet="`ab \n", max_size=40))
def test_markdown_fence_cannot_be_closed_by_prompt_text(before: str) -> None:
    finding = dataclasses.replace(REMOVED, before=before)
    lines = render(review_of(finding), "markdown").splitlines()
    opening = next(i for i, line in enumerate(lines) if line.endswith("diff"))
    fence = lines[opening].removesuffix("diff")
    closing = lines.index(fence, opening + 1)
    body = lines[opening + 1 : closing]
    assert body == ["- " + line for line in before.splitlines() or [""]]
    assert all(len(run) < len(fence) for run in re.findall("`+", before))


# --- SARIF ------------------------------------------------------------------------------------


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validate(log: dict[str, Any]) -> None:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(log)


def sarif(review: Review, **kwargs: Any) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render(review, "sarif", **kwargs))
    return log


def test_schema_file_is_the_sarif_2_1_0_schema_on_draft_7() -> None:
    schema = load_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator


def test_schema_validation_can_fail() -> None:
    log = sarif(MIXED)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate(log)


def test_sarif_validates_against_the_schema() -> None:
    validate(sarif(MIXED))
    validate(sarif(CLEAN))


def test_sarif_run_and_driver() -> None:
    log = sarif(MIXED)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "promptaudit"
    assert driver["informationUri"] == "https://github.com/promptaudit/promptaudit"
    assert driver["version"] == promptaudit.__version__
    assert sarif(MIXED, tool_version="9.9.9")["runs"][0]["tool"]["driver"]["version"] == "9.9.9"


def test_sarif_rules_one_per_rule_id() -> None:
    again = dataclasses.replace(REMOVED, path="prompts/other.md")
    log = sarif(review_of(REMOVED, WEAKENED_APPROVED, MISSING, ADDED, again))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "guardrail-removed/no-pii",
        "guardrail-weakened/refuse-weapons",
        "guardrail-missing/cite-sources",
        "guardrail-added",
    ]
    assert rules[0] == {
        "id": "guardrail-removed/no-pii",
        "name": "GuardrailRemoved",
        "shortDescription": {
            "text": "A guardrail required by the policy was removed from a prompt: no-pii."
        },
        "defaultConfiguration": {"level": "error"},
    }
    assert [r["defaultConfiguration"]["level"] for r in rules] == [
        "error",
        "note",
        "warning",
        "note",
    ]
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [
        "guardrail-removed/no-pii",
        "guardrail-weakened/refuse-weapons",
        "guardrail-missing/cite-sources",
        "guardrail-added",
        "guardrail-removed/no-pii",
    ]
    assert [r["ruleIndex"] for r in results] == [0, 1, 2, 3, 0]


def test_sarif_rule_default_level_is_the_strongest_result_level() -> None:
    approved = dataclasses.replace(REMOVED, approved_by=("Ada <ada@example.com>",), approved=True)
    log = sarif(review_of(approved, REMOVED))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [(r["id"], r["defaultConfiguration"]["level"]) for r in rules] == [
        ("guardrail-removed/no-pii", "error")
    ]


@pytest.mark.parametrize(
    ("finding", "level"),
    [
        (REMOVED, "error"),
        (WEAKENED_APPROVED, "note"),
        (MISSING, "warning"),
        (dataclasses.replace(MISSING, kind=UNLISTED_GUARDRAIL_REMOVED, guardrail=None), "warning"),
        (ADDED, "note"),
        (dataclasses.replace(REMOVED, blocking=False), "note"),
    ],
)
def test_sarif_levels(finding: Finding, level: str) -> None:
    log = sarif(review_of(finding))
    validate(log)
    assert log["runs"][0]["results"][0]["level"] == level


def test_sarif_result_fields() -> None:
    result = sarif(MIXED)["runs"][0]["results"][0]
    assert result["message"] == {"text": "Guardrail no-pii was removed."}
    assert result["partialFingerprints"] == {"promptaudit/v1": REMOVED.fingerprint}
    assert result["properties"] == {
        "kind": "guardrail-removed",
        "guardrail": "no-pii",
        "severity": "high",
        "blocking": True,
        "approvedBy": [],
        "requiredReviewers": ["Sam Sec <sam@example.com>"],
        "before": "Never share a customer's personal data.",
        "after": None,
    }
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "prompts/system.md"},
                "region": {"startLine": 11},
            }
        }
    ]


def test_sarif_uri_percent_encodes_spaces_and_non_ascii() -> None:
    finding = dataclasses.replace(ADDED, path="prompts/my prompts/système 提示.md")
    log = sarif(review_of(finding))
    validate(log)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == (
        "prompts/my%20prompts/syst%C3%A8me%20%E6%8F%90%E7%A4%BA.md"
    )


def test_sarif_uri_uses_forward_slashes_and_encodes_colons() -> None:
    finding = dataclasses.replace(ADDED, path="prompts\\c:d.md")
    location = sarif(review_of(finding))["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "prompts/c%3Ad.md"


@pytest.mark.parametrize(
    ("line", "anchor_line", "start_line"),
    [(12, 11, 11), (12, None, 12), (0, None, 1), (5, 0, 5), (-3, None, 1)],
)
def test_sarif_start_line_prefers_anchor_and_is_at_least_one(
    line: int, anchor_line: int | None, start_line: int
) -> None:
    finding = dataclasses.replace(REMOVED, line=line, anchor_line=anchor_line)
    log = sarif(review_of(finding))
    validate(log)
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": start_line}


def test_sarif_without_findings_has_empty_results_and_rules() -> None:
    run = sarif(CLEAN)["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []


# --- render_check (the hook message) ----------------------------------------------------------


def test_render_check_is_empty_when_nothing_blocks() -> None:
    assert render_check(CLEAN) == ""
    assert render_check(review_of(WEAKENED_APPROVED, MISSING, ADDED)) == ""


def test_render_check_names_finding_reviewers_and_trailer() -> None:
    assert render_check(MIXED) == text(
        "promptaudit: blocked: 1 guardrail change(s) need approval.",
        "",
        "prompts/system.md:12  guardrail-removed  no-pii  (high)",
        "    - before: Never share a customer's personal data.",
        "    + after: (none)",
        "    who may approve: Sam Sec <sam@example.com>",
        "",
        APPROVAL_HINT,
    )


def test_render_check_without_required_reviewers_and_without_guardrail() -> None:
    finding = dataclasses.replace(
        REMOVED,
        kind=UNLISTED_GUARDRAIL_REMOVED,
        guardrail=None,
        required_reviewers=(),
        before="Do not\ninvent facts.",
    )
    assert render_check(review_of(finding, ADDED)) == text(
        "promptaudit: blocked: 1 guardrail change(s) need approval.",
        "",
        "prompts/system.md:12  unlisted-guardrail-removed  -  (high)",
        "    - before: Do not invent facts.",
        "    + after: (none)",
        "    who may approve: any reviewer other than the author",
        "",
        APPROVAL_HINT,
    )


def test_render_notice_names_what_needs_approval_without_a_verdict() -> None:
    assert render_notice(CLEAN) == ""
    assert render_notice(review_of(WEAKENED_APPROVED, MISSING, ADDED)) == ""
    assert render_notice(MIXED) == text(
        "promptaudit: note: 1 guardrail change(s) need a reviewer's approval",
        "  prompts/system.md:12  guardrail-removed  no-pii  (high); may approve: "
        "Sam Sec <sam@example.com>",
        "promptaudit: the commit-msg hook checks next that the commit message carries "
        '"Guardrail-Approved-by: Name <email>" from one of them; without it the commit stops '
        "there",
    )


# --- import cost ------------------------------------------------------------------------------

_IMPORT_PROBE = """
import sys
import promptaudit.report as report
from promptaudit.findings import Finding, Review

finding = Finding("guardrail-removed", "no-pii", "high", "p.md", 1, "x", None, True, "gone")
review = Review("a" * 40, "b" * 40, "promptaudit.toml", (finding,))
print("import", "tabulate" in sys.modules)
report.render_check(review)
for fmt in ("json", "markdown", "sarif"):
    report.render(review, fmt)
print("others", "tabulate" in sys.modules)
report.render(review, "table")
print("table", "tabulate" in sys.modules)
"""


def test_tabulate_is_imported_only_by_the_table_renderer() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "import False\nothers False\ntable True\n"
