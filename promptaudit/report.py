"""Turn a `Review` into text: a terminal table, JSON, a pull-request comment, SARIF, a hook message.

Rendering never decides anything: whether a finding blocks, and who approved it, is already on
the `Finding`. Every renderer here is a pure function of the review, so each format can be tested
by comparing strings.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from typing import Any, Protocol
from urllib.parse import quote

from promptaudit import __version__
from promptaudit.findings import (
    FORBIDDEN_ADDED,
    GUARDRAIL_ADDED,
    GUARDRAIL_MISSING,
    GUARDRAIL_MODIFIED,
    GUARDRAIL_REMOVED,
    GUARDRAIL_WEAKENED,
    POLICY_WEAKENED,
    UNLISTED_GUARDRAIL_REMOVED,
    Finding,
    Review,
)

FORMATS = ("table", "json", "markdown", "sarif")

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/promptaudit/promptaudit"
# Versioned so that a change in how fingerprints are computed shows up as a new key, not as
# every alert being closed and reopened.
FINGERPRINT_KEY = "promptaudit/v1"

APPROVAL_HINT = (
    'Ask one of them to approve, then add the trailer "Guardrail-Approved-by: Name <email>" '
    "to the commit message, or run: promptaudit review --staged"
)
NOTICE_NEXT = (
    "promptaudit: the commit-msg hook checks next that the commit message carries "
    '"Guardrail-Approved-by: Name <email>" from one of them; without it the commit stops there'
)
ANY_REVIEWER = "any reviewer other than the author"
EXCERPT_LIMIT = 200

# Findings that never block by themselves but deserve more attention than an added guardrail.
_WARNING_KINDS = frozenset({GUARDRAIL_MISSING, UNLISTED_GUARDRAIL_REMOVED})

_KIND_DESCRIPTIONS = {
    GUARDRAIL_REMOVED: "A guardrail required by the policy was removed from a prompt",
    GUARDRAIL_WEAKENED: "A guardrail in a prompt lost force",
    GUARDRAIL_MODIFIED: "The wording of a guardrail in a prompt changed",
    GUARDRAIL_ADDED: "A guardrail was added to a prompt",
    FORBIDDEN_ADDED: "Text the policy forbids was added to a prompt",
    UNLISTED_GUARDRAIL_REMOVED: "A clause that reads like a guardrail was removed from a prompt",
    POLICY_WEAKENED: "The guardrail policy itself was weakened",
    GUARDRAIL_MISSING: "A guardrail required by the policy is missing from a prompt",
}

_SARIF_LEVEL_RANK = {"none": 0, "note": 1, "warning": 2, "error": 3}
_BACKTICK_RUN = re.compile(r"`+")


# --- shared helpers ---------------------------------------------------------------------------


def _is_unapproved_block(finding: Finding) -> bool:
    return finding.blocking and not finding.approved


def _still_blocking(review: Review) -> tuple[Finding, ...]:
    return tuple(f for f in review.findings if _is_unapproved_block(f))


def status_of(finding: Finding) -> str:
    """One word or phrase for where a finding stands; shared by the table and markdown."""
    if finding.blocking:
        if finding.approved:
            return "approved by " + ", ".join(finding.approved_by)
        return "BLOCKING"
    return "warning" if finding.kind in _WARNING_KINDS else "info"


def _where(finding: Finding) -> str:
    return f"{finding.path}:{finding.line}"


def _approvers(finding: Finding) -> str:
    return ", ".join(finding.required_reviewers) or ANY_REVIEWER


def terminal_safe(text: str) -> str:
    """Show control characters as escapes: prompt text must not drive the reviewer's terminal."""
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _oneline(text: str) -> str:
    return terminal_safe(" ".join(text.split()))


def excerpt(text: str | None) -> str:
    """One line of at most ~200 characters, so a long clause cannot bury the verdict."""
    if text is None:
        return "(none)"
    flat = " ".join(text.split())
    if len(flat) > EXCERPT_LIMIT:
        flat = flat[: EXCERPT_LIMIT - 1] + "…"
    return terminal_safe(flat)


def _range(review: Review) -> str:
    return f"{review.base[:12]}..{review.head[:12] or 'INDEX'}"


# --- table (terminal) -------------------------------------------------------------------------


def _style_status(status: str, color: bool) -> str:
    if not color:
        return status
    if status == "BLOCKING":
        import click

        return click.style(status, fg="red", bold=True)
    if status == "warning":
        import click

        return click.style(status, fg="yellow")
    return status


def _detail_block(finding: Finding) -> list[str]:
    guardrail = f" [{finding.guardrail}]" if finding.guardrail else ""
    lines = [
        terminal_safe(f"{_where(finding)} {finding.kind}{guardrail}"),
        "  " + _oneline(finding.message),
        *before_after(finding, "  "),
    ]
    if _is_unapproved_block(finding):
        lines.append("  approve: " + terminal_safe(_approvers(finding)))
        lines += _approval_lines(finding, "  ")
    return lines


def before_after(finding: Finding, indent: str) -> list[str]:
    """The clause before and after; nothing when the finding has neither (a policy change,
    which the message describes), rather than two lines of "(none)"."""
    if finding.before is None and finding.after is None:
        return []
    return [
        f"{indent}- before: " + excerpt(finding.before),
        f"{indent}+ after: " + excerpt(finding.after),
    ]


def _approval_lines(finding: Finding, indent: str) -> list[str]:
    """Who approved, and why the approvals that were found did not count."""
    lines = []
    if finding.approved_by:
        lines.append(f"{indent}approved by: " + terminal_safe(", ".join(finding.approved_by)))
    for note in finding.approval_notes:
        lines.append(f"{indent}not counted: " + terminal_safe(note))
    return lines


def _render_table(review: Review, *, color: bool, tool_version: str) -> str:
    blocking = _still_blocking(review)
    lines = [
        f"promptaudit: {_range(review)}  {len(review.findings)} finding(s), "
        f"{len(blocking)} blocking",
        f"policy: {terminal_safe(review.policy_source)}",
    ]
    if not review.findings:
        lines.append("OK: no guardrail changes.")
        return "\n".join(lines) + "\n"

    # Imported here: the hook path (`render_check`) must not pay for tabulate at import time.
    from tabulate import tabulate

    rows = [
        [
            f.severity,
            f.kind,
            terminal_safe(f.guardrail or "-"),
            terminal_safe(_where(f)),
            _style_status(terminal_safe(status_of(f)), color),
        ]
        for f in review.findings
    ]
    table = tabulate(
        rows, headers=["severity", "kind", "guardrail", "where", "status"], tablefmt="simple"
    )
    lines += ["", table]
    for finding in review.findings:
        lines += ["", *_detail_block(finding)]
    if blocking:
        verdict = f"BLOCKED: {len(blocking)} blocking finding(s) need approval."
        if color:
            import click

            verdict = click.style(verdict, fg="red", bold=True)
        lines += ["", verdict]
    else:
        lines += ["", "OK: nothing blocking."]
    return "\n".join(lines) + "\n"


# --- JSON -------------------------------------------------------------------------------------


def _render_json(review: Review, *, color: bool, tool_version: str) -> str:
    return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"


# --- markdown (pull-request comment) ----------------------------------------------------------


def md_cell(text: str) -> str:
    """Escape a table cell: a `|` would split the cell, a newline would end the row."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in `text`, so the text cannot close it."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def _diff_body(finding: Finding) -> str:
    lines = []
    if finding.before is not None:
        lines += ["- " + line for line in finding.before.splitlines() or [""]]
    if finding.after is not None:
        lines += ["+ " + line for line in finding.after.splitlines() or [""]]
    return "\n".join(lines)


def _md_details(finding: Finding) -> list[str]:
    guardrail = f" {finding.guardrail}" if finding.guardrail else ""
    summary = f"{_where(finding)} {finding.kind}{guardrail} ({status_of(finding)})"
    lines = [
        "<details>",
        f"<summary>{html.escape(summary, quote=False)}</summary>",
        "",
        html.escape(" ".join(finding.message.split()), quote=False),
        "",
    ]
    body = _diff_body(finding)
    if body:
        fence = _fence_for(body)
        lines += [fence + "diff", body, fence, ""]
    if finding.approved:
        lines.append("Approved by: " + md_cell(", ".join(finding.approved_by)))
    else:
        lines.append("Who may approve: " + md_cell(_approvers(finding)))
        if finding.approved_by:
            lines += ["", "Approved so far: " + md_cell(", ".join(finding.approved_by))]
    for note in finding.approval_notes:
        lines += ["", "Not counted: " + md_cell(note)]
    lines += ["", "</details>"]
    return lines


def _render_markdown(review: Review, *, color: bool, tool_version: str) -> str:
    blocking = _still_blocking(review)
    if blocking:
        verdict = f"**Blocked**: {len(blocking)} blocking finding(s) need approval."
    elif review.findings:
        verdict = "**Passed**: nothing blocking."
    else:
        verdict = "**Passed**: no guardrail changes."
    lines = [
        "### promptaudit",
        "",
        verdict,
        "",
        f"Range {md_cell(_range(review))}, policy {md_cell(review.policy_source)}.",
    ]
    if review.findings:
        lines += [
            "",
            "| severity | kind | guardrail | location | status |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in review.findings:
            status = md_cell(status_of(f))
            if _is_unapproved_block(f):
                status = f"**{status}**"
            cells = [f.severity, f.kind, f.guardrail or "-", _where(f)]
            lines.append("| " + " | ".join([*map(md_cell, cells), status]) + " |")
    for finding in review.findings:
        if finding.blocking:
            lines += ["", *_md_details(finding)]
    return "\n".join(lines) + "\n"


# --- SARIF ------------------------------------------------------------------------------------


def _rule_id(finding: Finding) -> str:
    """The SARIF ruleId: one rule per kind, split by guardrail so alerts group per guardrail."""
    return finding.kind if finding.guardrail is None else f"{finding.kind}/{finding.guardrail}"


def _sarif_level(finding: Finding) -> str:
    """An approved block stays visible as a note; only an unapproved block is an error."""
    if finding.blocking:
        return "note" if finding.approved else "error"
    return "warning" if finding.kind in _WARNING_KINDS else "note"


def _sarif_uri(path: str) -> str:
    """A relative URI reference (RFC 3986): forward slashes, everything else percent-encoded."""
    return quote(path.replace("\\", "/"), safe="/")


def _rule_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("-"))


def _sarif_rules(findings: tuple[Finding, ...]) -> list[dict[str, Any]]:
    """One rule per ruleId, in order of first appearance.

    The policy, not the kind, decides what blocks, so a rule's default level is the strongest
    level any of its results got in this run.
    """
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        rid = _rule_id(f)
        level = _sarif_level(f)
        if rid not in rules:
            text = _KIND_DESCRIPTIONS.get(f.kind, f.kind)
            if f.guardrail is not None:
                text += f": {f.guardrail}"
            rules[rid] = {
                "id": rid,
                "name": _rule_name(f.kind),
                "shortDescription": {"text": text + "."},
                "defaultConfiguration": {"level": level},
            }
        else:
            default = rules[rid]["defaultConfiguration"]
            if _SARIF_LEVEL_RANK[level] > _SARIF_LEVEL_RANK[default["level"]]:
                default["level"] = level
    return list(rules.values())


def _sarif_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    # Code hosts only annotate lines that exist at HEAD; anchor_line points there for removals.
    start_line = max(1, finding.anchor_line or finding.line)
    return {
        "ruleId": _rule_id(finding),
        "ruleIndex": rule_index,
        "level": _sarif_level(finding),
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _sarif_uri(finding.path)},
                    "region": {"startLine": start_line},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "kind": finding.kind,
            "guardrail": finding.guardrail,
            "severity": finding.severity,
            "blocking": finding.blocking,
            "approvedBy": list(finding.approved_by),
            "requiredReviewers": list(finding.required_reviewers),
            "before": finding.before,
            "after": finding.after,
        },
    }


def _render_sarif(review: Review, *, color: bool, tool_version: str) -> str:
    rules = _sarif_rules(review.findings)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promptaudit",
                        "informationUri": INFORMATION_URI,
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "results": [_sarif_result(f, index[_rule_id(f)]) for f in review.findings],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


# --- dispatch ---------------------------------------------------------------------------------


class _Renderer(Protocol):
    def __call__(self, review: Review, *, color: bool, tool_version: str) -> str: ...


_RENDERERS: dict[str, _Renderer] = {
    "table": _render_table,
    "json": _render_json,
    "markdown": _render_markdown,
    "sarif": _render_sarif,
}


def render(
    review: Review, fmt: str, *, color: bool = False, tool_version: str = __version__
) -> str:
    """Render `review` in one of `FORMATS`; the text ends with a newline."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return renderer(review, color=color, tool_version=tool_version)


def render_check(review: Review, hint: str = APPROVAL_HINT) -> str:
    """The message a git hook prints when a change is blocked; "" when it is not.

    HINT is how to approve where the hook stands (a message being written, commits already
    made, a merge whose message the hook cannot see). Plain text without tabulate: it runs
    on every commit, so it stays on stdlib and click.
    """
    blocking = _still_blocking(review)
    if not blocking:
        return ""
    lines = [f"promptaudit: blocked: {len(blocking)} guardrail change(s) need approval.", ""]
    for f in blocking:
        lines += [
            terminal_safe(f"{_where(f)}  {f.kind}  {f.guardrail or '-'}  ({f.severity})"),
            *before_after(f, "    "),
            "    who may approve: " + terminal_safe(_approvers(f)),
            *_approval_lines(f, "    "),
            "",
        ]
    lines.append(hint)
    return "\n".join(lines) + "\n"


def render_notice(review: Review) -> str:
    """What the pre-commit stage says about a change that needs an approval; "" otherwise.

    That stage runs before the message exists, so it cannot know whether the message will
    carry the approval: it names what needs one and who may give it, and leaves the verdict
    to the commit-msg hook rather than announcing a block that an approved commit never gets.
    """
    blocking = _still_blocking(review)
    if not blocking:
        return ""
    lines = [f"promptaudit: note: {len(blocking)} guardrail change(s) need a reviewer's approval"]
    for f in blocking:
        where = terminal_safe(f"{_where(f)}  {f.kind}  {f.guardrail or '-'}  ({f.severity})")
        lines.append(f"  {where}; may approve: " + terminal_safe(_approvers(f)))
    lines.append(NOTICE_NEXT)
    return "\n".join(lines) + "\n"
