"""`promptaudit init`: a first policy, proposed from the prompts a repository already has.

Each clause that reads like a safety rule on a known topic becomes a `[[guardrail]]` bound to
its own file by one phrase that only that clause of the file contains, and `required`, so that
deleting the clause is caught on the first review after adoption. Nothing here touches git
state: the repository is read through `Repository` and only the policy file is written.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from promptaudit.clauses import Clause, clauses_of
from promptaudit.errors import FatalError, GitError, PolicyError, PromptError
from promptaudit.formats import decode
from promptaudit.git import INDEX, MODE_SUBMODULE, MODE_SYMLINK, Repository
from promptaudit.globs import glob_to_regex
from promptaudit.matching import (
    satisfying,
)
from promptaudit.policy import (
    DEFAULT_MAX_PROMPT_BYTES,
    POLICY_FILES,
    RESERVED_PREFIX,
    Globs,
    Guardrail,
    Policy,
)
from promptaudit.policy_load import default_policy, load_policy
from promptaudit.propose import FileProposals, Ids, propose_file

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence


@dataclass(frozen=True)
class InitResult:
    toml: str
    files: tuple[FileProposals, ...]
    written: str | None  # the file written; None for a dry run
    notes: tuple[str, ...] = ()


def toml_string(value: str) -> str:
    """VALUE as a TOML basic string."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def glob_literal(path: str) -> str:
    """A glob matching exactly PATH: `*`, `?` and `{` each in a class of its own, `[` as `{[}`.

    (`[[]` would do for `[`, but Python warns that it may one day read as a nested set.) A
    byte that is not UTF-8 (surrogate-escaped) cannot be written in TOML: `?` stands in for it.
    """
    out = []
    for ch in path:
        if ch == "[":
            out.append("{[}")
        elif ch in "*?{":
            out.append(f"[{ch}]")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _toml_list(values: Sequence[str], indent: bool = False) -> str:
    if not indent:
        return "[" + ", ".join(toml_string(v) for v in values) + "]"
    return "[\n" + "".join(f"    {toml_string(v)},\n" for v in values) + "]"


def render_policy(
    files: Sequence[FileProposals],
    groups: Mapping[tuple[str, ...], str],
    globs: Sequence[str] = (),
) -> str:
    """The proposed promptaudit.toml.

    `prompts` is the globs the files were found with (the built-in ones, inherited, when none
    were given), not the list of today's files: a prompt file added later is audited at once.
    """
    count = sum(len(f.proposals) for f in files)
    lines = [
        f"# promptaudit policy proposed by `promptaudit init`: {count} guardrail(s) from",
        f"# {len(files)} prompt file(s). Review every entry before committing it (docs/init.md):",
        "# each one keeps one clause of a prompt as it reads today.",
        "",
        "# The built-in guardrails and forbidden instructions: promptaudit policy --default",
        'extends = "default"',
        'block_at = "medium"',
    ]
    if globs:
        lines.append(f"prompts = {_toml_list(list(globs), indent=True)}")
    else:
        lines.append("# prompts: the built-in globs, inherited (promptaudit policy --default)")
    if groups:
        lines += [
            "",
            "# Owners by email in CODEOWNERS; they may approve changes to these guardrails.",
        ]
        lines.append("[reviewers]")
        lines += [f"{name} = {_toml_list(members)}" for members, name in groups.items()]
    for f in files:
        for p in f.proposals:
            where = f"{p.clause.path}:{p.clause.line}"
            if p.also_at:
                where += " (repeated at line " + ", ".join(map(str, p.also_at)) + ")"
            lines += ["", f"# {_comment(where)}", "[[guardrail]]"]
            lines.append(f"id = {toml_string(p.id)}")
            lines.append(f"description = {toml_string(p.description)}")
            lines.append(f"severity = {toml_string(p.severity)}")
            if p.phrase is not None:
                lines.append(f"phrases = {_toml_list([p.phrase])}")
            if p.pattern is not None:
                lines.append(f"patterns = ['{p.pattern}']")
            lines.append(f"paths = {_toml_list([glob_literal(f.path)])}")
            lines.append("required = true")
            if p.owners:
                lines.append(f"reviewers = {_toml_list([groups[p.owners]])}")
    return "\n".join(lines) + "\n"


def owner_groups(files: Sequence[FileProposals]) -> dict[tuple[str, ...], str]:
    """A [reviewers] group name for each distinct set of owners: owners, owners-2, ..."""
    groups: dict[tuple[str, ...], str] = {}
    for f in files:
        for p in f.proposals:
            if p.owners and p.owners not in groups:
                groups[p.owners] = "owners" if not groups else f"owners-{len(groups) + 1}"
    return groups


def verify(
    text: str,
    name: str,
    files: Sequence[FileProposals],
    texts: Mapping[str, str],
    paths: Sequence[str],
) -> Policy:
    """Load our own output as `review` will and check every proposal against it; else fail closed.

    Each guardrail must apply to its file and be carried there by its own clause only (or by
    word-for-word repeats of it), so that deleting the clause is a removal.
    """
    try:
        policy = load_policy(text, f"{name} (generated)", path=name)
    except PolicyError as exc:
        raise PolicyError(f"init produced an invalid policy: {exc.message}", _BUG) from None
    wanted = {f.path for f in files}
    stray = [p for p in paths if policy.is_prompt(p) != (p in wanted)]
    if stray:
        raise PolicyError(f"init's prompts globs do not match exactly: {stray[0]}", _BUG)
    for f in files:
        clauses = clauses_of(f.path, texts[f.path], policy.prompt_keys)
        joined = "\n".join(c.norm for c in clauses)
        starts = list(accumulate((len(c.norm) + 1 for c in clauses[:-1]), initial=0))
        for p in f.proposals:
            rule = policy.entry(p.id)
            if not isinstance(rule, Guardrail) or not rule.applies_to(f.path):
                raise PolicyError(f"init's guardrail '{p.id}' does not apply to {f.path}", _BUG)
            # A phrase can only match a clause whose text holds it: look only there.
            near = (
                clauses if rule.patterns else _holding(rule.norm_phrases, joined, starts, clauses)
            )
            if {c.norm for c in satisfying(rule, near)} != {p.clause.norm}:
                raise PolicyError(f"init's guardrail '{p.id}' does not single out its clause", _BUG)
    return policy


def _holding(
    phrases: Sequence[str], joined: str, starts: Sequence[int], clauses: Sequence[Clause]
) -> list[Clause]:
    """The clauses whose normalized text contains one of PHRASES as a substring."""
    found: dict[int, Clause] = {}
    for phrase in phrases:
        at = joined.find(phrase)
        while at != -1:
            i = bisect_right(starts, at) - 1
            found[i] = clauses[i]
            at = joined.find(phrase, at + 1)
    return list(found.values())


_BUG = "this is a bug in promptaudit init; write the policy by hand (docs/policy.md) and report it"


# -- the command: read the repository, propose, write ----------------------------------------


def find_prompts(files: Mapping[str, tuple[str, str]], globs: Sequence[str]) -> list[str]:
    """The prompt files among FILES: the built-in policy's globs, or GLOBS when given."""
    if not globs:
        return sorted(p for p in files if default_policy().is_prompt(p))
    for g in globs:
        try:
            re.compile(glob_to_regex(g))
        except (re.error, RecursionError) as exc:
            raise PolicyError(
                f"invalid glob {g!r} in --prompts: {exc}", "check the [...] classes"
            ) from None
    wanted = Globs(tuple(globs))
    return sorted(
        p
        for p in files
        if wanted.match(p) and not (p in POLICY_FILES or p.startswith(RESERVED_PREFIX))
    )


def init_policy(
    repo_path: str, globs: Sequence[str] = (), *, force: bool = False, dry_run: bool = False
) -> InitResult:
    """Propose a promptaudit.toml for the repository at REPO_PATH; write it unless DRY_RUN."""
    with Repository(repo_path) as found:
        if found.bare:
            raise GitError("init needs a working tree, not a bare repository", "run it in a clone")
        root = found.root
    # At the top level: from a subfolder, `git ls-files` would list paths relative to it.
    with Repository(root) as repo:
        index = repo.list_files(INDEX)
        target, notes = _target(repo.root, index, force=force, dry_run=dry_run)
        paths = find_prompts(index, globs)
        if not paths:
            where = "the --prompts globs" if globs else "the built-in prompt globs"
            raise FatalError(
                f"no prompt files found with {where} (tracked or staged files)",
                "name them: promptaudit init --prompts 'path/to/prompts/**/*.md'",
            )
        if globs:
            left_out = [p for p in index if default_policy().is_prompt(p) and p not in paths]
            if left_out:
                notes.append(
                    f"the built-in policy also audits {len(left_out)} file(s) --prompts leaves "
                    f"out ({left_out[0]}, ...): the first review will report that as "
                    "policy-weakened until approved"
                )
        owners_of = _codeowners(repo, index)
        if owners_of is not None and not any(owners_of(p) for p in paths):
            notes.append(
                "CODEOWNERS names no owner of these prompts by email (@handles cannot be "
                "matched to git identities): no reviewers proposed"
            )
        texts = {p: _read_prompt(repo, p, index[p]) for p in paths}
    policy = default_policy()
    ids = Ids(e.id for e in (*policy.guardrails, *policy.forbidden))
    files: list[FileProposals] = []
    for p in paths:
        owners = owners_of(p) if owners_of else ()
        files.append(propose_file(p, texts[p], policy, ids, owners))
    text = render_policy(files, owner_groups(files), globs)
    verify(text, target.name, files, texts, list(index))
    notes += [n for f in files for n in f.notes]
    if dry_run:
        return InitResult(text, tuple(files), None, tuple(notes))
    try:
        with open(target, "w" if force else "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except FileExistsError:
        raise _exists(target.name) from None
    except OSError as exc:
        raise FatalError(
            f"cannot write {target}: {exc.strerror}", "check the permissions"
        ) from None
    return InitResult(text, tuple(files), target.name, tuple(notes))


def _exists(name: str) -> FatalError:
    return FatalError(
        f"{name} already exists", "keep it, or replace it with: promptaudit init --force"
    )


def _target(
    root: str, index: Mapping[str, object], *, force: bool, dry_run: bool
) -> tuple[Path, list[str]]:
    """Where the policy goes, refusing to overwrite one without --force."""
    present = [n for n in POLICY_FILES if n in index or (Path(root) / n).exists()]
    if len(present) > 1:
        raise PolicyError(
            "both promptaudit.toml and .promptaudit.toml exist",
            "delete one of them before running init",
        )
    name = present[0] if present else POLICY_FILES[0]
    notes = []
    if present and not force:
        if not dry_run:
            raise _exists(name)
        notes.append(f"{name} exists: writing this policy needs --force")
    return Path(root) / name, notes


def _read_prompt(repo: Repository, path: str, entry: tuple[str, str]) -> str:
    mode, blob = entry
    if mode in (MODE_SYMLINK, MODE_SUBMODULE):
        what = "a symbolic link" if mode == MODE_SYMLINK else "a submodule"
        raise PromptError(f"{path} is {what}, not a prompt file", "leave it out with --prompts")
    data = repo.blobs.read(blob)
    if data is None:
        raise GitError(f"cannot read {path} (object {blob[:12]} is missing)", "run git fsck")
    try:
        return decode(data, path, DEFAULT_MAX_PROMPT_BYTES)
    except PromptError as exc:  # review would fail on it too: say how to leave it out
        raise PromptError(exc.message, f"{exc.hint}, or leave it out with --prompts") from None


def _codeowners(
    repo: Repository, index: Mapping[str, tuple[str, str]]
) -> Callable[[str], tuple[str, ...]] | None:
    from promptaudit.codeowners import LOCATIONS, parse_codeowners

    for location in LOCATIONS:
        if location in index:
            data = repo.blobs.read(index[location][1]) or b""
            return parse_codeowners(data.decode("utf-8", "replace")).owners_of
    return None


def render_summary(result: InitResult) -> str:
    """The table of files, clauses read and guardrails proposed, then notes and the next step."""
    from tabulate import tabulate

    rows = [[f.path, f.clauses, len(f.proposals)] for f in result.files]
    total = sum(len(f.proposals) for f in result.files)
    rows.append(["total", sum(f.clauses for f in result.files), total])
    out = [tabulate(rows, headers=["file", "clauses read", "guardrails proposed"])]
    out += [f"note: {n}" for n in result.notes]
    if result.written:
        out.append(f"wrote {result.written}: {total} guardrail(s), plus the built-in ones.")
        name = result.written
        out.append(f"next: review {name}, then: git add {name} && git commit")
    else:
        out.append("dry run: nothing written.")
    return "\n".join(out) + "\n"
