"""One streaming `git log --raw -p -U0` over a history, parsed commit by commit.

The raw lines give each changed file's status, blob ids and paths (renames paired); the
zero-context hunks say exactly which lines changed, which is all the history walk needs to
re-read only the paragraphs a commit touched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, NamedTuple

from promptaudit.errors import GitError

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from promptaudit.git import Repository

_COMMIT = "\x1eC\x1f"
_TRAILER = "Guardrail-Approved-by"
_RESERVED = ".promptaudit/"
_APPROVALS = ".promptaudit/approvals"
_FORMAT = (
    "--format=%x1eC%x1f%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f"
    "%(trailers:key=Guardrail-Approved-by,valueonly=true,separator=%x1d)"
)
# Lines of a file's diff header that say nothing the raw record has not said.
_HEADER_NOISE = (b"index ", b"--- ", b"+++ ", b"\\ No newline")
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NULL = "0" * 40
_CHUNK = 1 << 16


@dataclass
class LogFile:
    """One file changed by a commit: raw record plus its zero-context hunks."""

    status: str
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    hunks: list[tuple[int, int, list[str]]] = field(default_factory=list)
    binary: bool = False


@dataclass
class LogCommit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    date: str
    subject: str
    trailers: tuple[str, ...]
    files: list[LogFile] = field(default_factory=list)


def unquote(path: str) -> str:
    """Undo git's C-style quoting of a path (core.quotepath=on keeps the output ASCII)."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    raw = path[1:-1].encode("ascii", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "surrogateescape")


def glob_pathspecs(globs: Sequence[str]) -> list[str]:
    """Policy globs as git pathspecs (`:(glob)`), with {a,b} alternatives expanded."""
    out: list[str] = []
    for g in globs:
        for expanded in _expand_braces(g.lstrip("/")):
            out.append(f":(glob){expanded}")
    return out


def _expand_braces(glob: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", glob)
    if not m:
        return [glob]
    out = []
    for option in m.group(1).split(","):
        out += _expand_braces(glob[: m.start()] + option + glob[m.end() :])
    return out


class LogQuery(NamedTuple):
    """Which commits a walk reads: a range (revisions or dates) and the paths that matter."""

    since: str | None = None
    until: str | None = None
    first_parent: bool = False
    policy_paths: Sequence[str] = ()
    prompt_globs: Sequence[str] = ()


def log_stream(repo: Repository, query: LogQuery) -> Iterator[LogCommit]:
    """The commits that touch prompt files or the policy, oldest first."""
    # Small delta-base and pack-window caches keep git's own memory flat over long histories,
    # at no cost in speed for a walk that reads each blob once.
    args = ["-c", "core.quotepath=on", "-c", "core.deltaBaseCacheLimit=4m"]
    args += ["-c", "core.packedGitLimit=1m", "-c", "core.packedGitWindowSize=64k"]
    # Parents before children whatever the dates say: the walk reads each change on its parent.
    args += ["log", "--reverse", "--date-order", "--raw", "--no-abbrev", "-p", "-U0"]
    args += ["-M", "--no-color", "--no-ext-diff", "--no-textconv", _FORMAT]
    args += ["--diff-merges=first-parent"] if query.first_parent else ["--diff-merges=off"]
    args += _selection(repo, query)
    # Started now, not at the first commit asked for: the caller can work while git starts.
    return _commits(repo.popen(*args))


def count_commits(repo: Repository, query: LogQuery) -> int | None:
    """How many commits log_stream yields for QUERY (None if git cannot say)."""
    out = repo.try_run("rev-list", "--count", *_selection(repo, query))
    return int(out) if out and out.strip().isdigit() else None


def _selection(repo: Repository, query: LogQuery) -> list[str]:
    """The range, its date filters and the paths, as git log and git rev-list take them."""
    # --full-history: git's default simplification drops a side branch's commits when the
    # merge leaves the file as main had it (a rule dropped and restored there, `merge -s ours`).
    args = ["--first-parent"] if query.first_parent else ["--full-history"]
    rev = _range(repo, query.since, query.until, args)
    return [*args, rev, "--", *glob_pathspecs(query.prompt_globs), *query.policy_paths]


def _commits(proc: subprocess.Popen[bytes]) -> Iterator[LogCommit]:
    assert proc.stdout is not None
    try:
        yield from parse_log(proc.stdout)
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        code = proc.wait()
        if proc.stderr:
            proc.stderr.close()
    if code != 0:
        first = (err.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        raise GitError(f"git log failed: {first}", "check the revisions given to --since/--until")


def _range(repo: Repository, since: str | None, until: str | None, args: list[str]) -> str:
    """--since/--until take a revision or a date; revisions bound the range, dates filter it."""
    end = "HEAD"
    if until:
        sha = repo.commit_of(until)
        if sha:
            end = sha
        else:
            args.append(f"--until={_date(until, '--until')}")
    if since:
        sha = repo.commit_of(since)
        if sha:
            return f"{sha}..{end}"
        args.append(f"--since={_date(since, '--since')}")
    return end


# Every word git's date parser reads as part of a date. git reads any other word as nothing
# and an unreadable date as "now": a mistyped branch name would silently empty a retro-audit.
_MONTHS = "jan feb mar apr may jun jul aug sep sept oct nov dec"
_DAYS = "mon tue tues wed thu thur thurs fri sat sun"
_DATE_WORDS = frozenset(
    (
        f"{_MONTHS} {_DAYS} january february march april june july august september october "
        "november december monday tuesday wednesday thursday friday saturday sunday "
        "second seconds minute minutes hour hours day days week weeks month months year years "
        "fortnight fortnights ago yesterday today now noon midnight tea last this am pm at "
        "t z utc gmt"
    ).split()
)


def _date(value: str, option: str) -> str:
    """VALUE, when git reads all of it as a date; otherwise a GitError (exit 2)."""
    words = re.findall(r"[a-z]+", value.lower())
    readable = bool(words or re.search(r"\d", value)) and all(w in _DATE_WORDS for w in words)
    if not readable:
        raise GitError(
            f"{option} {value!r} is neither a revision nor a date",
            "give a commit, branch or tag, or a date such as 2025-01-31 or '2 weeks ago'",
        )
    return value


class PolicyVersions:
    """Every version of the policy file up to END, asked of git at once and read when
    needed: the walk's paths depend on all of them, and git walks the history meanwhile."""

    def __init__(self, repo: Repository, end: str, names: Sequence[str]) -> None:
        args = ["log", "--full-history", "--raw", "--no-abbrev", "--format=%x1e%P", end]
        self._proc = repo.popen(*args, "--", *names)

    def result(self) -> tuple[list[str], bool]:
        """The blobs, newest first, and whether some commit there had no policy file (before
        it was added, or after it was deleted). A failing git reads as no history."""
        out, _ = self._proc.communicate()
        if self._proc.returncode != 0:
            out = b""
        blobs: dict[str, None] = {}
        some_had_none = False
        for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
            parents, *raw = record.split("\n")
            for line in raw:
                if not line.startswith(":"):
                    continue
                fields = line.split("\t")[0].split()
                status, new_blob = fields[4][0], fields[3]
                if status == "D" or (status == "A" and parents.strip()):
                    some_had_none = True
                if new_blob != "0" * 40:
                    blobs[new_blob] = None
        return list(blobs), some_had_none


class ApprovalOnlyCommits:
    """Commits up to END that only give approvals, oldest (by commit date) first.

    A trailer in an otherwise empty commit, or a commit that adds signed approval records
    and nothing outside `.promptaudit/`, approves changes made before it. The history walk
    starts this query when a blocking event finds no approval in its own commit, and reads
    it once the walk is done: git answers while the walk goes on.
    """

    def __init__(self, repo: Repository, end: str) -> None:
        fmt = ["log", "--no-renames", "--name-only", "--format=%x1e%H %ct"]
        self._procs = [
            repo.popen(*fmt, "-i", f"--grep={_TRAILER}:", end, "--"),
            repo.popen(*fmt, "--full-diff", end, "--", _APPROVALS),
        ]

    def result(self) -> list[str]:
        found: dict[str, int] = {}
        for proc in self._procs:
            out, err = proc.communicate()
            if proc.returncode != 0:
                first = (err.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
                raise GitError(f"git log failed: {first}", "")
            for rec in out.decode("utf-8", "replace").split("\x1e")[1:]:
                head, _, names = rec.partition("\n")
                sha, when = head.split()
                if all(p.startswith(_RESERVED) for p in names.split("\n") if p.strip()):
                    found[sha] = int(when)
        return sorted(found, key=found.__getitem__)


def parse_log(stream: IO[bytes]) -> Iterator[LogCommit]:
    """Parse the output of `git log --raw -p -U0` in the format above."""
    commit: LogCommit | None = None
    section = -1
    remaining_old = remaining_new = 0
    hunk: list[str] = []
    for lines in _line_chunks(stream):
        i, n = 0, len(lines)
        while i < n:
            if remaining_old or remaining_new:
                # Inside a hunk: exactly the counted lines belong to it, all removed lines
                # first. Removed lines are only counted, never decoded; git's "\ No newline"
                # note can follow the last of them (then the header test below skips it).
                if remaining_old:
                    take = min(remaining_old, n - i)
                    i += take
                    remaining_old -= take
                    continue
                if lines[i][:1] == b"+":
                    take = min(remaining_new, n - i)
                    hunk += [
                        ln[1:].rstrip(b"\r").decode("utf-8", "surrogateescape")
                        for ln in lines[i : i + take]
                    ]
                    i += take
                    remaining_new -= take
                    continue
            raw_line = lines[i]
            i += 1
            # The common lines are told apart on bytes; only records with text are decoded.
            if not raw_line or raw_line.startswith(_HEADER_NOISE):
                continue
            if raw_line.startswith(b"@@ "):
                if commit is not None and 0 <= section < len(commit.files):
                    m = _HUNK.match(raw_line)
                    if m:
                        old_count = int(m.group(2) or 1)
                        hunk = []
                        commit.files[section].hunks.append((int(m.group(1)), old_count, hunk))
                        remaining_old, remaining_new = old_count, int(m.group(4) or 1)
                continue
            if raw_line.startswith(b"diff --git "):
                section += 1
                continue
            line = raw_line.decode("utf-8", "surrogateescape")
            if line.startswith(_COMMIT):
                if commit is not None:
                    yield commit
                commit = _commit_record(line)
                section = -1
                continue
            if commit is None:
                continue
            if line.startswith(":"):
                commit.files.append(_raw_record(line))
            elif line.startswith("Binary files ") and 0 <= section < len(commit.files):
                commit.files[section].binary = True
    if commit is not None:
        yield commit


def _line_chunks(stream: IO[bytes]) -> Iterator[list[bytes]]:
    """The stream's lines, without their newlines, a list of lines at a time: a hunk's lines
    are then taken by slicing, not one by one."""
    read = getattr(stream, "read1", stream.read)  # what the pipe holds, without waiting for more
    rest = b""
    while chunk := read(_CHUNK):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines
    if rest:
        yield [rest]


def _commit_record(line: str) -> LogCommit:
    f = line[len(_COMMIT) :].split("\x1f")
    return LogCommit(
        sha=f[0],
        parents=tuple(f[1].split()),
        author_name=f[2],
        author_email=f[3].lower(),
        date=f[4],
        subject=f[5],
        trailers=tuple(t.strip() for t in f[6].split("\x1d") if t.strip()),
    )


def _raw_record(line: str) -> LogFile:
    meta, *paths = line.split("\t")
    _old_mode, _new_mode, old_sha, new_sha, status = meta[1:].split()
    letter = status[0]
    first = unquote(paths[0])
    second = unquote(paths[1]) if len(paths) > 1 else first
    return LogFile(
        status=letter,
        old_path=None if letter == "A" else first,
        new_path=None if letter == "D" else second,
        old_blob=None if old_sha == _NULL else old_sha,
        new_blob=None if new_sha == _NULL else new_sha,
    )
