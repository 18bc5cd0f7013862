"""Renderers for `promptaudit log` (guardrail events over time) and `promptaudit show`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from promptaudit.report import before_after, excerpt, md_cell, status_of, terminal_safe

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.history import Event, Unjudged
    from promptaudit.show import Shown


def render_log(events: Sequence[Event], fmt: str, unjudged: Sequence[Unjudged] = ()) -> str:
    if fmt == "json":
        return (
            json.dumps(
                {
                    "events": [e.to_dict() for e in events],
                    "unjudged": [u.to_dict() for u in unjudged],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    rows = [
        (
            e.date[:10],
            e.commit[:12],
            e.author,
            e.finding.kind,
            e.finding.guardrail or "-",
            f"{e.finding.path}:{e.finding.line}",
            status_of(e.finding),
        )
        for e in events
    ]
    headers = ("date", "commit", "author", "kind", "guardrail", "where", "status")
    unapproved = sum(1 for e in events if e.unapproved)
    verdict = f"{len(events)} event(s), {unapproved} blocking without approval."
    if unjudged:
        verdict += f" {len(unjudged)} commit(s) could not be judged."
    if fmt == "markdown":
        lines = ["### promptaudit log", "", verdict, ""]
        if rows:
            lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(md_cell(str(c)) for c in row) + " |" for row in rows]
        if unjudged:
            lines += ["", "Could not be judged:", ""]
            lines += [
                f"- `{u.commit[:12]}` {md_cell(u.subject)}: {md_cell(u.error)}"
                + (f" (hint: {md_cell(u.hint)})" if u.hint else "")
                for u in unjudged
            ]
        return "\n".join(lines) + "\n"
    failed = _unjudged_lines(unjudged)
    if not rows:
        return "\n".join([*failed[1:], "", verdict] if failed else ["No guardrail events."]) + "\n"
    from tabulate import tabulate

    table = tabulate(
        [[terminal_safe(str(c)) for c in row] for row in rows], headers, tablefmt="simple"
    )
    details = []
    for e in events:
        if e.finding.blocking:
            details += [
                "",
                f"{e.commit[:12]} {e.finding.kind} [{e.finding.guardrail or '-'}] {terminal_safe(e.subject)}",
                *before_after(e.finding, "  "),
            ]
            if e.finding.approved_by:
                details.append("  approved by: " + terminal_safe(", ".join(e.finding.approved_by)))
            details += ["  not counted: " + terminal_safe(n) for n in e.finding.approval_notes]
    return "\n".join([table, *details, *failed, "", verdict]) + "\n"


def _unjudged_lines(unjudged: Sequence[Unjudged]) -> list[str]:
    """The commits that could not be judged, one line each with its hint below."""
    lines = []
    for u in unjudged:
        lines += ["", f"{u.commit[:12]} could not be judged: {terminal_safe(u.error)}"]
        lines.append(f"  {terminal_safe(u.subject)}")
        if u.hint:
            lines.append(f"  hint: {terminal_safe(u.hint)}")
    return lines


_NOT_A_PROMPT = "note: this file is not a prompt under the policy; it is shown as if it were."


def render_show(shown: Shown, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(shown.to_dict(), indent=2, ensure_ascii=False) + "\n"
    head = f"{shown.path} at {shown.rev[:12]} (policy: {shown.policy_source})"
    # A line of its own: terminal_safe would show a newline inside HEAD as an escape.
    notes = [] if shown.in_scope else [_NOT_A_PROMPT]
    if fmt == "markdown":
        lines = [f"### {md_cell(head)}", ""]
        lines += [x for n in notes for x in (md_cell(n), "")]
        lines += ["| line | clause | guardrails | forbidden |", "|---|---|---|---|"]
        lines += [
            f"| {c.line} | {md_cell(c.text)} | {md_cell(', '.join(c.guardrails))} | {md_cell(', '.join(c.forbidden))} |"
            for c in shown.clauses
        ]
        if shown.missing:
            lines += ["", "**Missing:** " + ", ".join(f"`{g.id}`" for g in shown.missing)]
        return "\n".join(lines) + "\n"
    width = max((len(str(c.line)) for c in shown.clauses), default=1)
    lines = [terminal_safe(head), *notes, ""]
    for c in shown.clauses:
        marks = "".join(f" [{g}]" for g in c.guardrails) + "".join(f" !{f}!" for f in c.forbidden)
        lines.append(f"{c.line:>{width}}  {excerpt(c.text)}{marks}")
    lines.append("")
    if shown.missing:
        lines.append("Guardrails that apply but no clause carries:")
        lines += [
            f"  {g.id} ({g.severity}{', required' if g.required else ''}): {g.description}"
            for g in shown.missing
        ]
    else:
        lines.append("Every guardrail that applies to this file is carried.")
    return "\n".join(lines) + "\n"
