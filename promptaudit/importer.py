"""`promptaudit import`: turn a JSON-lines history of prompt versions into git commits.

Every source change becomes one commit with its author and date (as committer too, so the
same input always yields the same commit ids) and a `Promptaudit-Import-Source` trailer that
makes a re-run skip what is already there. The whole input is read and checked before
anything is written; the commits are written by one `git fast-import` to a scratch ref and
the branch is fast-forwarded only when all of them are in. The format is in docs/import.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptaudit.errors import FatalError, GitError
from promptaudit.git import Repository
from promptaudit.gitwrite import (
    FastImport,
    Ident,
    advance_branch,
    delete_ref,
    init_repository,
)
from promptaudit.policy import POLICY_FILES, RESERVED_PREFIX, email_of
from promptaudit.policy_load import default_policy, load_policy

if TYPE_CHECKING:
    from collections.abc import Iterator

SOURCE_TRAILER = "Promptaudit-Import-Source"
BASELINE_TRAILER = "Promptaudit-Import-Baseline"
PLACEHOLDER_DOMAIN = "promptaudit-import.invalid"
UNKNOWN_AUTHOR = "unknown"
_BASELINE_NAME = "promptaudit import"
_SCRATCH_REF = "refs/promptaudit/import"
_STATUSES = "AMDRCT"
_ANGLE = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>$")
_TRAILER_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*:\s")
_GLOB_CHARS = re.compile(r"[*?\[{]")


class InputError(FatalError):
    kind = "input error"


@dataclass(frozen=True)
class FileEdit:
    """One file of a source change: what it was recorded as before, and what it becomes."""

    line: int
    path: str  # the file written, or deleted when `after` is None
    source: str  # where the change starts: the old path of a rename or copy, else `path`
    renamed_from: str | None
    has_before: bool  # the record says what `source` held before the change
    before: bytes | None  # None: `source` did not exist
    after: bytes | None


@dataclass(frozen=True)
class SourceChange:
    """One change of the source history: one commit."""

    source_id: str
    line: int
    author: Ident
    message: str
    edits: tuple[FileEdit, ...]


@dataclass(frozen=True)
class ImportResult:
    """What an import did; `commits` pairs each imported source id with its new commit."""

    file: str
    into: str
    branch: str
    commits: tuple[tuple[str, str], ...]
    baselines: int
    skipped: int
    policy_added: bool
    prompts: tuple[str, ...]
    uncovered: tuple[str, ...]
    # The imported files the added policy names besides the built-in globs.
    named: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The summary printed by `promptaudit import`."""
        branch = self.branch.removeprefix("refs/heads/")
        if not self.commits:
            return [
                f"nothing to import: all {_n(self.skipped, 'change')} in {self.file} are "
                f"already in {self.into} (branch {branch})"
            ]
        made = f"{_n(len(self.commits) + self.baselines, 'new commit')}"
        if self.baselines:
            made += f", {self.baselines} of them baselines: see docs/import.md"
        out = [
            f"imported {_n(len(self.commits), 'change')} from {self.file} into {self.into}, "
            f"branch {branch} ({made})"
        ]
        if self.policy_added:
            globs = 'added promptaudit.toml: extends = "default", the built-in prompt globs'
            if self.named:
                globs += f" and {_n(len(self.named), 'imported file')} they do not match"
            else:
                globs += " (they match every imported file)"
            out.append(globs)
        if self.skipped:
            out.append(f"skipped {_n(self.skipped, 'change')} already imported")
        if self.uncovered:
            out.append(
                f"note: the existing policy does not name {_n(len(self.uncovered), 'imported file')}"
                f" (first: {self.uncovered[0]}); add them to its prompts to audit them"
            )
        out.append(
            f"audit one change: promptaudit review -C {self.into} {self.commits[-1][1][:12]}"
        )
        return out


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- reading the input -------------------------------------------------------------------


def read_history(file: str) -> list[SourceChange]:
    """Parse and check every record of FILE ("-": standard input), grouped into changes."""
    name = "<stdin>" if file == "-" else file
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}", "check the path") from None
    groups: list[tuple[str | None, list[tuple[int, dict[str, Any], FileEdit]]]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        rec = _parse_line(name, number, raw)
        item = (number, rec, _edit(name, number, rec))
        key = _explicit_id(rec, name, number)
        if key is not None and groups and groups[-1][0] == key:
            groups[-1][1].append(item)
            continue
        if key is not None and key in seen:
            raise InputError(
                f"{name}:{number}: records of commit {key!r} are not together "
                f"(it also appears at line {seen[key]})",
                "keep the records of one commit on consecutive lines",
            )
        if key is not None:
            seen[key] = number
        groups.append((key, [item]))
    if not groups:
        raise InputError(f"{name}: no records", "write one JSON object per line (docs/import.md)")
    return [_change(name, key, items) for key, items in groups]


def _parse_line(name: str, number: int, raw: bytes) -> dict[str, Any]:
    try:
        rec = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}:{number}: not UTF-8 (byte {exc.start + 1})", "save the file as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}:{number}: not valid JSON: {exc.msg} (column {exc.colno})",
            "write one complete JSON object per line",
        ) from None
    if not isinstance(rec, dict):
        raise InputError(
            f"{name}:{number}: a JSON {type(rec).__name__}, not an object",
            'each line is one object: {"path": ..., "text": ..., "date": ..., "author": ...}',
        )
    return rec


def _is_pair(rec: dict[str, Any]) -> bool:
    return "path" not in rec and ("to_path" in rec or "from_path" in rec)


def _explicit_id(rec: dict[str, Any], name: str, number: int) -> str | None:
    value = rec.get("commit", rec.get("pair_id") if _is_pair(rec) else None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(
            f"{name}:{number}: 'commit' must be a string or a number",
            'for example "commit": "v12"',
        )
    text = str(value).strip()
    if not text or any(c in text for c in "\r\n"):
        raise InputError(
            f"{name}:{number}: 'commit' must be one non-empty line", 'for example "commit": "v12"'
        )
    return text


def _change(
    name: str, key: str | None, items: list[tuple[int, dict[str, Any], FileEdit]]
) -> SourceChange:
    number, first, _ = items[0]
    edits = tuple(edit for _, _, edit in items)
    if key is None:
        canon = json.dumps(first, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        key = "sha256:" + hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    where = f"{name}:{number}"
    date = first.get("date")
    if date is None and _is_pair(first):
        date = first.get("to_label_date")
    seconds, offset = _parse_date(date, where)
    author_name, email = _author(first, where)
    return SourceChange(
        source_id=key,
        line=number,
        author=Ident(author_name, email, seconds, offset),
        message=_message(first, edits, where),
        edits=edits,
    )


def _edit(name: str, number: int, rec: dict[str, Any]) -> FileEdit:
    where = f"{name}:{number}"
    if _is_pair(rec):
        # A version pair: `before` and `after` are two versions of the file to_path.
        path = _path(rec.get("to_path"), "to_path", where)
        if "before" not in rec or "after" not in rec:
            raise InputError(
                f"{where}: a version pair without 'before' and 'after'",
                "give both versions' full texts (null where a version does not exist)",
            )
        before = _text(rec, "before", where)
        after = _text(rec, "after", where)
        return FileEdit(number, path, path, None, True, before, after)
    path = _path(rec.get("path"), "path", where)
    status = rec.get("status") or "M"
    if not isinstance(status, str) or status[0].upper() not in _STATUSES:
        raise InputError(
            f"{where}: status {status!r} is not one of A, M, D, R, C, T",
            "use D for a deletion and R (with old_path) for a rename",
        )
    letter = status[0].upper()
    old = rec.get("old_path")
    old_path = _path(old, "old_path", where) if old is not None else None
    if letter == "R" and old_path is None:
        raise InputError(f"{where}: status R without old_path", "name the path before the rename")
    if "after" in rec and "text" in rec:
        raise InputError(f"{where}: both 'text' and 'after'", "give the new version once")
    if "after" in rec or "text" in rec:
        after = _text(rec, "after" if "after" in rec else "text", where)
    elif letter == "D":
        after = None
    else:
        raise InputError(
            f"{where}: no 'text' (or 'after') for {path}",
            'give the file\'s full new text, or "status": "D" for a deletion',
        )
    if letter == "D" and after is not None:
        raise InputError(f"{where}: status D, but the new text is not null", "drop one of them")
    source = old_path or path
    renamed = old_path if old_path and old_path != path and letter != "C" else None
    before = _text(rec, "before", where) if "before" in rec else None
    return FileEdit(number, path, source, renamed, "before" in rec, before, after)


def _path(value: Any, key: str, where: str) -> str:
    if value is None:
        raise InputError(f"{where}: '{key}' is missing", "name the file, e.g. prompts/support.md")
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: '{key}' must be a non-empty string", "e.g. prompts/support.md")
    hint = "use a relative path with / between folders, e.g. prompts/support.md"
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
        raise InputError(f"{where}: '{key}' {value!r} is not a clean relative path", hint)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InputError(f"{where}: '{key}' {value!r} has control characters", hint)
    if any(p.lower() == ".git" for p in parts):
        raise InputError(f"{where}: '{key}' {value!r} is inside .git", hint)
    if value in POLICY_FILES or value.startswith(RESERVED_PREFIX):
        raise InputError(
            f"{where}: '{key}' {value!r} is promptaudit's own file, not a prompt",
            "import prompt files only; import writes the policy itself",
        )
    return value


def _text(rec: dict[str, Any], key: str, where: str) -> bytes | None:
    value = rec[key]
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(
            f"{where}: '{key}' must be the file's text (a string) or null",
            "put the whole file in one JSON string",
        )
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{where}: '{key}' holds an unpaired surrogate (\\ud800-\\udfff)",
            "export the text as valid Unicode",
        ) from None


def _parse_date(value: Any, where: str) -> tuple[int, str]:
    hint = 'use ISO 8601, e.g. "2025-07-08T22:28:23+00:00" or "2025-07-08"'
    if value is None:
        raise InputError(f"{where}: 'date' is missing", hint)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{where}: 'date' must be a string", hint)
    try:
        if isinstance(value, str):
            text = value.strip()
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        else:
            when = datetime.fromtimestamp(value, timezone.utc)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = int(when.timestamp())
    except (ValueError, OverflowError, OSError):
        raise InputError(f"{where}: date {value!r} is not an ISO 8601 date", hint) from None
    if seconds < 0:
        raise InputError(f"{where}: date {value!r} is before 1970", hint)
    offset = when.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset else 0
    sign = "-" if minutes < 0 else "+"
    return seconds, f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def placeholder_email(name: str) -> str:
    """A stable stand-in for a missing email: the name in ASCII, under a reserved domain."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    local = re.sub(r"[^a-z0-9]+", ".", ascii_name.lower()).strip(".")
    if not local:
        local = "user-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{local}@{PLACEHOLDER_DOMAIN}"


def _author(rec: dict[str, Any], where: str) -> tuple[str, str]:
    value = rec.get("author", rec.get("author_name"))
    email = rec.get("author_email")
    if isinstance(value, dict):
        email = value.get("email", email)
        value = value.get("name")
    if value is None and _is_pair(rec):
        value = UNKNOWN_AUTHOR
    hint = 'e.g. "author": "Dana Lee <dana@example.com>", or "author_name" and "author_email"'
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: 'author' is missing or empty", hint)
    name = value.strip()
    m = _ANGLE.match(name)
    if m:
        name, email = m.group("name").strip() or m.group("email"), m.group("email")
    elif "@" in name and " " not in name and email is None:
        name, email = name.split("@", 1)[0], name
    if email is not None and not isinstance(email, str):
        raise InputError(f"{where}: 'author_email' must be a string", hint)
    email = (email or "").strip()
    if any(c in "<>\n\r" for c in name + email):
        raise InputError(f"{where}: author {value!r} has '<', '>' or a line break", hint)
    if not email:
        return name, placeholder_email(name)
    # Reviewers, approvals and the self-approval check all go by email: a malformed one
    # would make the author someone nobody can name.
    if email_of(email) is None:
        raise InputError(
            f"{where}: author email {email!r} is not an email address",
            'write it as "Name <name@example.com>", or leave it out for a placeholder',
        )
    return name, email


def _message(rec: dict[str, Any], edits: tuple[FileEdit, ...], where: str) -> str:
    for key in ("message", "subject"):
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: '{key}' must be a string", "write the message as text")
        if value and value.strip():
            return "\n".join(ln.rstrip() for ln in value.strip().splitlines())
    if _is_pair(rec):
        kind = f" ({rec['pair_type']})" if isinstance(rec.get("pair_type"), str) else ""
        return f"{rec.get('from_path')} -> {rec.get('to_path')}{kind}"
    verb = {True: "Delete", False: "Update"}
    names = [f"{verb[e.after is None]} {e.path}" for e in edits[:3]]
    more = f" and {len(edits) - 3} more" if len(edits) > 3 else ""
    return "; ".join(names) + more


def with_trailer(message: str, key: str, value: str) -> str:
    """MESSAGE with `KEY: VALUE` added to its trailer block (a new one when it has none)."""
    body = message.rstrip()
    paragraphs = body.split("\n\n")
    last = paragraphs[-1].splitlines()
    if len(paragraphs) > 1 and all(_TRAILER_LINE.match(ln) for ln in last):
        return f"{body}\n{key}: {value}\n"
    return f"{body}\n\n{key}: {value}\n"


def trailer_values(message: str, key: str) -> list[str]:
    """Values of KEY in the last paragraph of MESSAGE."""
    last = message.rstrip().split("\n\n")[-1]
    prefix = key.lower() + ":"
    return [ln[len(prefix) :].strip() for ln in last.splitlines() if ln.lower().startswith(prefix)]


# -- writing -------------------------------------------------------------------------------


def policy_text(paths: list[str]) -> str:
    """The policy an import commits: the built-in one, over its own globs and PATHS.

    `prompts` replaces the built-in globs rather than adding to them, so a list of only the
    imported files would stop auditing the prompts a repository already had. The built-in
    globs are inherited when they match every imported file; otherwise they are written out,
    followed by the imported files they miss, each as a glob that matches only itself.
    """
    extra = uncovered_by_default(paths)
    head = (
        "# Written by `promptaudit import`: the built-in default policy, applied to the\n"
        "# imported prompt files. See `promptaudit policy --default` and docs/policy.md.\n"
        'extends = "default"\n'
    )
    if not extra:
        return head + "# prompts: the built-in globs, inherited; they match every imported file\n"
    items = "".join(f"    {_toml_string(g)},\n" for g in default_policy().prompts)
    items += "    # imported files the built-in globs do not match\n"
    items += "".join(f"    {_toml_string(_glob_literal(p))},\n" for p in extra)
    return head + f"prompts = [\n    # the built-in globs\n{items}]\n"


def uncovered_by_default(paths: list[str]) -> list[str]:
    """The PATHS the built-in prompt globs do not match: what an import's policy must name."""
    default = default_policy()
    return [p for p in paths if not default.is_prompt(p)]


def _glob_literal(path: str) -> str:
    """PATH as a glob that matches exactly it: `[*]`, `[?]`, `[{]`, and `{[}` for a `[`."""
    return _GLOB_CHARS.sub(lambda m: "{[}" if m.group(0) == "[" else f"[{m.group(0)}]", path)


def _toml_string(value: str) -> str:
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


@dataclass
class _Planned:
    author: Ident
    message: str
    files: list[tuple[str, bytes | None]]
    source_id: str | None  # None: a baseline


class _Tree:
    """The files of the branch as the planned commits leave it (HEAD's, read on demand)."""

    def __init__(self, repo: Repository, head: str | None) -> None:
        self._repo = repo
        self._head = repo.list_files(head) if head else {}
        self._changed: dict[str, bytes | None] = {}

    def get(self, path: str) -> bytes | None:
        if path in self._changed:
            return self._changed[path]
        entry = self._head.get(path)
        return self._repo.blobs.read(entry[1]) if entry else None

    def apply(self, files: list[tuple[str, bytes | None]]) -> None:
        self._changed.update(files)


def _plan(changes: list[SourceChange], tree: _Tree) -> Iterator[_Planned]:
    for change in changes:
        baseline: dict[str, bytes | None] = {}
        for e in change.edits:
            if e.has_before and e.source not in baseline and tree.get(e.source) != e.before:
                baseline[e.source] = e.before
        if baseline:
            when = change.author.seconds, change.author.offset
            ident = Ident(_BASELINE_NAME, placeholder_email("import"), *when)
            message = (
                f"Import baseline for {change.source_id}\n\n"
                "The files as the source recorded them just before the next commit; "
                "not a change of its own.\n\n"
                f"{BASELINE_TRAILER}: {change.source_id}\n"
            )
            files = list(baseline.items())
            tree.apply(files)
            yield _Planned(ident, message, files, None)
        ops: dict[str, bytes | None] = {}
        for e in change.edits:
            if e.renamed_from:
                ops[e.renamed_from] = None
            ops[e.path] = e.after
        files = list(ops.items())
        tree.apply(files)
        message = with_trailer(change.message, SOURCE_TRAILER, change.source_id)
        yield _Planned(change.author, message, files, change.source_id)


def _open_target(into: str) -> Repository:
    target = Path(into)
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"--into {into}: cannot create the folder: {exc.strerror}",
                "name a folder you can write to",
            ) from None
        init_repository(target)
        return Repository(target)
    hint = "name a new or empty folder, or the top folder of a git repository"
    if not target.is_dir():
        raise InputError(f"--into {into}: not a folder", hint)
    try:
        repo = Repository(target)
    except GitError:
        raise InputError(f"--into {into}: not empty and not a git repository", hint) from None
    top = Path(repo.git_dir if repo.bare else repo.root).resolve()
    if top != target.resolve():
        repo.close()
        raise InputError(f"--into {into}: inside the git repository {top}, not its top", hint)
    return repo


def import_history(file: str, into: str) -> ImportResult:
    """Append FILE's changes that INTO does not have yet, as commits on its current branch."""
    changes = read_history(file)
    with _open_target(into) as repo:
        branch = repo.current_branch()
        if branch is None:
            raise InputError(
                f"--into {into}: HEAD is detached", "check out the branch to import onto"
            )
        if not repo.bare and (dirty := repo.worktree_changes()):
            raise InputError(
                f"--into {into}: the working tree has changes ({dirty[0]}"
                f"{f' and {len(dirty) - 1} more' if len(dirty) > 1 else ''})",
                "commit or stash them first (git status)",
            )
        head = repo.head()
        done: set[str] = set()
        if head:
            for msg in repo.commit_messages(head, grep=SOURCE_TRAILER):
                done.update(trailer_values(msg, SOURCE_TRAILER))
        todo = [c for c in changes if c.source_id not in done]
        paths = sorted({p for c in todo for e in c.edits for p in (e.path, e.source)})
        found = [repo.blobs.read(f"{head}:{n}") for n in POLICY_FILES] if head else []
        existing = [d for d in found if d is not None]
        planned = list(_plan(todo, _Tree(repo, head)))
        if planned and not existing:
            planned[0].files.insert(0, ("promptaudit.toml", policy_text(paths).encode()))
        uncovered: tuple[str, ...] = ()
        if existing and todo:
            uncovered = _uncovered(existing[0], paths)
        commits = _write(repo, branch, head, planned)
    return ImportResult(
        file="<stdin>" if file == "-" else file,
        into=into,
        branch=branch,
        commits=commits,
        baselines=len(planned) - len(commits),
        skipped=len(changes) - len(todo),
        policy_added=bool(planned) and not existing,
        prompts=tuple(paths),
        uncovered=uncovered,
        named=tuple(uncovered_by_default(paths)) if planned and not existing else (),
    )


def _uncovered(policy_data: bytes, paths: list[str]) -> tuple[str, ...]:
    try:
        policy = load_policy(policy_data.decode("utf-8-sig"), "promptaudit.toml")
    except (FatalError, UnicodeDecodeError):
        return ()  # `review` reports a broken policy; the import has nothing to add
    return tuple(p for p in paths if not policy.is_prompt(p))


def _write(
    repo: Repository, branch: str, head: str | None, planned: list[_Planned]
) -> tuple[tuple[str, str], ...]:
    if not planned:
        return ()
    cwd = repo.root  # the git dir itself in a bare repository
    delete_ref(cwd, _SCRATCH_REF)  # left over from an interrupted run
    writer = FastImport(cwd, _SCRATCH_REF, head)
    try:
        marks = [
            writer.commit(p.author, p.author, p.message.encode("utf-8"), p.files) for p in planned
        ]
        ids = writer.close()
    except BaseException:
        writer.abort()
        raise
    advance_branch(cwd, branch, head, ids[marks[-1]], worktree=not repo.bare)
    delete_ref(cwd, _SCRATCH_REF)
    return tuple(
        (p.source_id, ids[m])
        for p, m in zip(planned, marks, strict=True)
        if p.source_id is not None
    )
