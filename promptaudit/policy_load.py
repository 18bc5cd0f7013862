"""Reading a policy: promptaudit.toml text to a Policy, validated completely, or one error.

Unknown keys, wrong types, duplicate ids, bad regular expressions and unknown reviewer groups
are errors with a line number where one exists, and a hint. The built-in default policy is
read the same way, once per process.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

from promptaudit.errors import PolicyError
from promptaudit.findings import SEVERITIES
from promptaudit.globs import glob_to_regex
from promptaudit.policy import (
    DEFAULT_MAX_PROMPT_BYTES,
    DEFAULT_PROMPT_KEYS,
    Forbidden,
    Guardrail,
    Policy,
    email_of,
    line_of_key,
)
from promptaudit.text import normalize, spelled_out

if TYPE_CHECKING:
    from collections.abc import Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

DEFAULT_POLICY_PATH = os.path.join(os.path.dirname(__file__), "default_policy.toml")

_TOP_KEYS: dict[str, type] = {
    "prompts": list,
    "default_branch": str,
    "block_at": str,
    "extends": str,
    "disable": list,
    "strict": bool,
    "prompt_keys": list,
    "max_prompt_bytes": int,
    "allowed_signers": str,
    "require_signed": bool,
    "matching": str,
    "reviewers": dict,
    "guardrail": list,
    "forbidden": list,
}
# What guardrails and forbidden entries share (as Rule does), then what only guardrails have.
_FORBIDDEN_KEYS: dict[str, type] = {
    "id": str,
    "description": str,
    "severity": str,
    "phrases": list,
    "patterns": list,
    "paths": list,
    "reviewers": list,
    "approvals": int,
    "require_groups": list,
}
_GUARDRAIL_KEYS: dict[str, type] = {
    **_FORBIDDEN_KEYS,
    "required": bool,
    "directive": bool,
    "scope": str,
}
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")

_HEADER = re.compile(r"^[ \t]*\[\[?[ \t]*([A-Za-z0-9_.\-\"]+)[ \t]*\]\]?[ \t]*(?:#.*)?$", re.M)


def _table_span(text: str, name: str, index: int) -> tuple[int, int] | None:
    """Offsets of the INDEX-th `[NAME]`/`[[NAME]]` table, header to the next header."""
    headers = list(_HEADER.finditer(text))
    mine = [i for i, h in enumerate(headers) if h.group(1) == name]
    if index >= len(mine):
        return None
    at = mine[index]
    return headers[at].start(), headers[at + 1].start() if at + 1 < len(headers) else len(text)


class _Loader:
    def __init__(
        self,
        text: str,
        source: str,
        table: tuple[str, int] | None = None,
        *,
        trusted: bool = False,
    ) -> None:
        self.text = text
        self.source = source
        self.trusted = trusted
        # Within one table, keys are looked up in that table only, so that an error in the
        # second [[guardrail]] does not point at the first one's line. Found only when an
        # error needs it: a policy of a thousand entries must still load in milliseconds.
        self._table = table

    @property
    def span(self) -> tuple[int, int] | None:
        return _table_span(self.text, *self._table) if self._table else None

    def table(self, name: str, index: int = 0) -> _Loader:
        return _Loader(self.text, self.source, (name, index), trusted=self.trusted)

    def fail(
        self, message: str, hint: str, key: str | None = None, value: str | None = None
    ) -> PolicyError:
        start, end = self.span or (0, len(self.text))
        if key:
            # A value TOML spelled with escapes is not found verbatim: fall back to the key.
            line = line_of_key(self.text, key, value, start, end)
            if line is None and value is not None:
                line = line_of_key(self.text, key, None, start, end)
        else:  # no key to point at: the table's header, if in a table
            line = self.text.count("\n", 0, start) + 1 if self.span else None
        where = f"{self.source}:{line}" if line else self.source
        return PolicyError(f"{where}: {message}", hint)

    def check_keys(self, table: dict[str, Any], schema: dict[str, type], what: str) -> None:
        for key, value in table.items():
            if key not in schema:
                allowed = ", ".join(sorted(schema))
                raise self.fail(f"unknown key '{key}' in {what}", f"allowed keys: {allowed}", key)
            expected = schema[key]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                hint, scope = f"write it as {_example(expected)}", self
                at_key: str | None = key
                if key in ("guardrail", "forbidden"):  # e.g. [guardrail] written for [[guardrail]]
                    hint = f"write each entry as a [[{key}]] table"
                    header = self.table(key)
                    if header.span:  # no `key =` line to find: point at the header
                        scope, at_key = header, None
                got = _type_name(type(value))
                raise scope.fail(
                    f"'{key}' in {what} must be {_type_name(expected)}, not {got}", hint, at_key
                )
            if isinstance(value, list) and key not in ("guardrail", "forbidden"):
                for item in value:
                    if not isinstance(item, str):
                        raise self.fail(
                            f"'{key}' in {what} must be a list of strings",
                            f'write it as {key} = ["..."]',
                            key,
                        )

    def severity(self, value: str, key: str, what: str) -> str:
        if value not in SEVERITIES:
            raise self.fail(
                f"{key} '{value}' in {what} is not a severity",
                "use one of: " + ", ".join(SEVERITIES),
                key,
                value,
            )
        return value

    def regexes(self, patterns: list[str], what: str) -> None:
        for p in patterns:
            try:
                re.compile(p, re.IGNORECASE)
            except (re.error, OverflowError, RecursionError) as exc:
                raise self.fail(
                    f"invalid regular expression {p!r} in {what}: {exc}",
                    "fix the pattern (Python `re` syntax; use a TOML literal string '...')",
                    "patterns",
                ) from None


def _type_name(t: type) -> str:
    """The TOML name of a type, with its article: "a string", "an integer"."""
    names = {str: "a string", list: "a list", dict: "a table", bool: "a boolean", int: "an integer"}
    return names.get(t, f"a {t.__name__}")


def _example(t: type) -> str:
    return {
        str: '"text"',
        list: '["a", "b"]',
        dict: "a [table]",
        bool: "true or false",
        int: "a number",
    }[t]


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        where = f"{source}:{m.group(1)}" if m else source
        cause = re.sub(r"\s*\(at line.*\)$", "", msg) if m else msg
        raise PolicyError(f"{where}: not valid TOML: {cause}", "fix the TOML syntax") from None


def load_policy(text: str, source: str, *, path: str | None = None) -> Policy:
    """Validate TEXT as a promptaudit policy; merge the built-in default when it extends it."""
    data = parse_toml(text, source)
    return _build(data, text, source, path=path)


def _build(
    data: dict[str, Any], text: str, source: str, *, path: str | None, is_default: bool = False
) -> Policy:
    ld = _Loader(text, source, trusted=is_default)
    ld.check_keys(data, _TOP_KEYS, "the policy")
    reviewers: dict[str, tuple[str, ...]] = {}
    in_reviewers = ld.table("reviewers")
    for group, members in data.get("reviewers", {}).items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise in_reviewers.fail(
                f'reviewer group \'{group}\' must be a list of "Name <email>" or "email" strings',
                f'write it as {group} = ["Alice <alice@example.com>"]',
                group,
            )
        for m in members:
            if email_of(m) is None:
                raise in_reviewers.fail(
                    f"reviewer {m!r} in group '{group}' has no email address",
                    'write reviewers as "Name <email>" or "email"',
                    group,
                )
        reviewers[group] = tuple(members)

    extends = data.get("extends")
    if extends is not None and extends != "default":
        raise ld.fail(
            f"extends = '{extends}' is not known",
            'the only value is extends = "default"',
            "extends",
        )

    base: Policy | None = default_policy() if extends == "default" else None
    disable = tuple(data.get("disable", ()))
    if disable and base is None:
        raise ld.fail(
            "'disable' needs extends = \"default\"",
            'add extends = "default" or remove disable',
            "disable",
        )
    if base is not None:
        known = {e.id for e in (*base.guardrails, *base.forbidden)}
        for d in disable:
            if d not in known:
                raise ld.fail(
                    f"disable names '{d}', which is not a built-in entry",
                    "see 'promptaudit policy --default' for the built-in ids",
                    "disable",
                )

    guardrails = [
        _guardrail(ld, g, reviewers, i) for i, g in enumerate(_tables(ld, data, "guardrail"))
    ]
    forbidden = [
        _forbidden(ld, f, reviewers, i) for i, f in enumerate(_tables(ld, data, "forbidden"))
    ]
    seen: set[str] = set()
    for kind, entries in (("guardrail", guardrails), ("forbidden", forbidden)):
        for i, e in enumerate(entries):
            if e.id in seen:  # pointing at the second one, the one to rename
                raise ld.table(kind, i).fail(
                    f"duplicate id '{e.id}'",
                    "give every guardrail and forbidden entry its own id",
                    "id",
                    e.id,
                )
            seen.add(e.id)

    if base is not None:
        own = {e.id for e in (*guardrails, *forbidden)}
        guardrails = [
            g for g in base.guardrails if g.id not in own and g.id not in disable
        ] + guardrails
        forbidden = [
            f for f in base.forbidden if f.id not in own and f.id not in disable
        ] + forbidden

    if "prompts" in data:
        prompts = tuple(data["prompts"])
    elif base is not None:
        prompts = base.prompts
    else:
        raise ld.fail(
            "'prompts' is missing", 'list your prompt files: prompts = ["prompts/**/*.md"]'
        )
    if not prompts:
        # A policy that names no prompt file audits nothing: every change would pass.
        raise ld.fail(
            "prompts = [] names no file, so this policy would audit nothing",
            "remove prompts to keep the built-in globs, or list your prompt files"
            if base is not None
            else 'list your prompt files: prompts = ["prompts/**/*.md"]',
            "prompts",
        )
    _check_globs(ld, prompts, "prompts", "the policy")
    for e in (*guardrails, *forbidden):
        _check_globs(ld, e.paths, "paths", f"'{e.id}'")
    block_at = ld.severity(data.get("block_at", "medium"), "block_at", "the policy")
    max_bytes = data.get("max_prompt_bytes", DEFAULT_MAX_PROMPT_BYTES)
    if max_bytes <= 0:
        raise ld.fail(
            "max_prompt_bytes must be positive",
            "for example max_prompt_bytes = 1048576",
            "max_prompt_bytes",
        )
    return Policy(
        source=source,
        prompts=prompts,
        guardrails=tuple(guardrails),
        forbidden=tuple(forbidden),
        reviewers=reviewers,
        default_branch=data.get("default_branch"),
        block_at=block_at,
        extends=extends,
        disable=disable,
        strict=data.get("strict", False),
        prompt_keys=tuple(data.get("prompt_keys", DEFAULT_PROMPT_KEYS)),
        max_prompt_bytes=max_bytes,
        allowed_signers=data.get("allowed_signers"),
        require_signed=data.get("require_signed", False),
        matching=_choice(
            ld, data.get("matching", "default"), ("default", "semantic"), "matching", "the policy"
        ),
        is_default=is_default,
        path=path,
        text=text,
    )


def _choice(ld: _Loader, value: str, allowed: tuple[str, ...], key: str, what: str) -> str:
    if value not in allowed:
        raise ld.fail(
            f"{key} = '{value}' in {what} is not known",
            "use one of: " + ", ".join(allowed),
            key,
            value,
        )
    return value


def _check_globs(ld: _Loader, globs: Sequence[str], key: str, what: str) -> None:
    for g in globs:
        try:
            re.compile(glob_to_regex(g))
        except (re.error, RecursionError) as exc:
            raise ld.fail(
                f"invalid glob {g!r} in {key} of {what}: {exc}",
                "check the [...] character classes (ranges run low to high)",
                key,
            ) from None


def _tables(ld: _Loader, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    for item in items:
        if not isinstance(item, dict):
            raise ld.fail(
                f"'{key}' must be written as [[{key}]] tables",
                f"see docs/policy.md for [[{key}]]",
                key,
            )
    return list(items)


def _rule_fields(
    ld: _Loader, t: dict[str, Any], reviewers: dict[str, tuple[str, ...]], what: str
) -> dict[str, Any]:
    if "id" not in t:
        raise ld.fail(f"a [[{what}]] entry has no id", f'add id = "short-name" to every [[{what}]]')
    rid = t["id"]
    label = f"[[{what}]] '{rid}'"
    if not _ID.fullmatch(rid):
        raise ld.fail(
            f"id '{rid}' is not a valid id",
            "use lowercase letters, digits, '.', '_' and '-'",
            "id",
            rid,
        )
    phrases = t.get("phrases", [])
    patterns = t.get("patterns", [])
    if not phrases and not patterns:
        raise ld.fail(
            f"{label} has neither phrases nor patterns", "give it at least one phrase", "id", rid
        )
    for p in phrases:
        if not normalize(p):
            raise ld.fail(
                f"phrase {p!r} in {label} has no words", "remove it or write words", "phrases"
            )
    if not ld.trusted:  # the built-in policy's patterns are checked by its tests, not per run
        ld.regexes(patterns, label)
    for r in t.get("reviewers", []):
        if r not in reviewers and email_of(r) is None:
            known = ", ".join(sorted(reviewers)) or "none defined"
            raise ld.fail(
                f"{label} names reviewer '{r}', which is neither a [reviewers] group nor an email",
                f"define the group under [reviewers] (groups: {known}) or write an email",
                "reviewers",
            )
    approvals = t.get("approvals", 1)
    if approvals < 1:
        raise ld.fail(
            f"approvals in {label} must be 1 or more", "for example approvals = 2", "approvals"
        )
    for g in t.get("require_groups", []):
        if g not in reviewers:
            known = ", ".join(sorted(reviewers)) or "none defined"
            raise ld.fail(
                f"{label} requires reviewer group '{g}', which is not defined",
                f"define it under [reviewers] (groups: {known})",
                "require_groups",
            )
    return {
        "id": rid,
        "approvals": approvals,
        "require_groups": tuple(t.get("require_groups", ())),
        "description": t.get("description", ""),
        "severity": ld.severity(t.get("severity", "high"), "severity", label),
        "phrases": tuple(phrases),
        "patterns": tuple(spelled_out(p) for p in patterns),
        "paths": tuple(t.get("paths", ())),
        "reviewers": tuple(t.get("reviewers", ())),
    }


def _guardrail(
    ld: _Loader, t: dict[str, Any], reviewers: dict[str, tuple[str, ...]], i: int
) -> Guardrail:
    ld = ld.table("guardrail", i)
    ld.check_keys(t, _GUARDRAIL_KEYS, f"[[guardrail]] #{i + 1}")
    return Guardrail(
        **_rule_fields(ld, t, reviewers, "guardrail"),
        required=t.get("required", False),
        directive=t.get("directive", False),
        scope=_choice(
            ld, t.get("scope", "file"), ("file", "set"), "scope", f"[[guardrail]] #{i + 1}"
        ),
    )


def _forbidden(
    ld: _Loader, t: dict[str, Any], reviewers: dict[str, tuple[str, ...]], i: int
) -> Forbidden:
    ld = ld.table("forbidden", i)
    ld.check_keys(t, _FORBIDDEN_KEYS, f"[[forbidden]] #{i + 1}")
    return Forbidden(**_rule_fields(ld, t, reviewers, "forbidden"))


_DEFAULT: Policy | None = None


def default_policy_text() -> str:
    with open(DEFAULT_POLICY_PATH, encoding="utf-8") as fh:
        return fh.read()


def default_policy() -> Policy:
    """The built-in policy, used when a repository has none (parsed once per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        text = default_policy_text()
        _DEFAULT = _build(
            parse_toml(text, "built-in default policy"),
            text,
            "built-in default policy",
            path=None,
            is_default=True,
        )
    return _DEFAULT
