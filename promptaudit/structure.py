"""What changed in the structure of a YAML or JSON prompt file, in words a reviewer can act on.

When a guardrail leaves a structured prompt file although its words are still in the file,
the cause is usually structural: the message's role went from `system` to `user`, or the
text moved under a key that is not a prompt key. deepdiff names those paths.
"""

from __future__ import annotations

from typing import Any

from promptaudit.formats import JSON, YAML, format_of, plain_data

_MOST = 3


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def structural_changes(old_path: str, old_text: str, new_path: str, new_text: str) -> list[str]:
    """Up to three structural changes, such as "root['messages'][0]['role']: 'system' -> 'user'"."""
    if format_of(old_path) not in (YAML, JSON) or format_of(new_path) not in (YAML, JSON):
        return []
    try:
        old, new = plain_data(old_path, old_text), plain_data(new_path, new_text)
    except Exception:  # the files already parsed once; a second parser disagreeing is no finding
        return []
    # A one-document YAML file reads as that document, so paths start at its root.
    old, new = (
        d[0] if isinstance(d, list) and len(d) == 1 and format_of(p) == YAML else d
        for d, p in ((old, old_path), (new, new_path))
    )
    from deepdiff import DeepDiff  # only when a structured prompt lost a guardrail

    # Plain comparison only: never Delta or pickle features on repository content.
    diff = DeepDiff(old, new, ignore_order=False, verbose_level=1)
    notes: list[str] = []
    for path, change in diff.get("values_changed", {}).items():
        before, after = change["old_value"], change["new_value"]
        if isinstance(before, str) and isinstance(after, str) and max(len(before), len(after)) > 40:
            notes.append(f"{path}: text changed")
        else:
            notes.append(f"{path}: {_short(before)} -> {_short(after)}")
    for path, change in diff.get("type_changes", {}).items():
        notes.append(f"{path}: {_short(change['old_value'])} -> {_short(change['new_value'])}")
    for key, verb in (
        ("dictionary_item_removed", "removed"),
        ("dictionary_item_added", "added"),
        ("iterable_item_removed", "removed"),
        ("iterable_item_added", "added"),
    ):
        for path in diff.get(key, {}):
            notes.append(f"{path} {verb}")
    # Role and key changes explain a lost guardrail better than text edits do.
    notes.sort(key=lambda n: n.endswith("text changed"))
    return notes[:_MOST]
