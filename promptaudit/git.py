"""Every git call promptaudit makes.

Plumbing output is read with `-z` so no path is ever quoted or split, every command runs
with GIT_OPTIONAL_LOCKS=0 so a read-only run never even refreshes the index's stat cache,
and blob contents come through one long-lived `git cat-file --batch` process. gitpython is
imported only for the commit-level plumbing (merge bases, commit metadata) that the hook's
fast path never needs.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from promptaudit.errors import GitError

if TYPE_CHECKING:
    from collections.abc import Sequence

INDEX = "INDEX"
MODE_SYMLINK = "120000"
MODE_SUBMODULE = "160000"
_NULL_SHA = "0" * 40


@dataclass(frozen=True)
class Change:
    """One path changed between two snapshots (raw diff record, renames paired by git)."""

    status: str  # A, D, M, R, T, C
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    old_mode: str | None
    new_mode: str | None


@dataclass(frozen=True)
class RangeCommit:
    """A commit of a reviewed range: who wrote it, its approval trailers, the paths it touched."""

    sha: str
    author_name: str
    author_email: str
    date: str
    subject: str
    trailers: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    date: str
    message: str


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env.setdefault("LC_ALL", "C")
    # A hook runs with GIT_DIR set relative to the repository; we pass -C and keep it.
    return env


class Repository:
    """A git repository opened for reading."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        self.cwd = os.fspath(path)
        out = self._try(
            "rev-parse", "--is-bare-repository", "--absolute-git-dir", "--is-shallow-repository"
        )
        if out is None:
            raise GitError(
                f"not a git repository: {os.path.abspath(self.cwd)}",
                "run promptaudit inside a git repository, or pass -C PATH",
            )
        bare, git_dir, shallow = out.decode().splitlines()[:3]
        self.bare = bare == "true"
        self.git_dir = git_dir
        self.shallow = shallow == "true"
        if self.bare:
            self.root = git_dir
        else:
            top = self._try("rev-parse", "--show-toplevel")
            self.root = top.decode().strip() if top else self.cwd
        self._reader: BlobReader | None = None

    # -- process plumbing -------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        return ["git", "-C", self.cwd, "-c", "core.quotepath=off", *args]

    def _try(self, *args: str, stdin: bytes | None = None) -> bytes | None:
        proc = subprocess.run(
            self._cmd(*args), input=stdin, capture_output=True, env=_env(), check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        """Run git; a failure becomes a GitError carrying git's own first line."""
        try:
            proc = subprocess.run(
                self._cmd(*args), input=stdin, capture_output=True, env=_env(), check=False
            )
        except FileNotFoundError as exc:  # pragma: no cover - git missing entirely
            raise GitError("git is not installed or not on PATH", "install git") from exc
        if proc.returncode != 0:
            first = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
            raise GitError(f"git {args[0]} failed: {first}", "")
        return proc.stdout

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- revisions --------------------------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The commit id of REV, or a GitError that says how to get it."""
        out = self._try("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        if out:
            return out.decode().strip()
        if self.shallow:
            raise GitError(
                f"unknown revision '{rev}' in a shallow clone",
                "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)",
            )
        raise GitError(
            f"unknown revision '{rev}'",
            "check the name with 'git rev-parse', or fetch it first",
        )

    def head(self) -> str | None:
        """HEAD's commit id, or None in a repository with no commits yet."""
        out = self._try("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        return out.decode().strip() if out else None

    @cached_property
    def empty_tree(self) -> str:
        return self.run("hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()

    def parent(self, sha: str) -> str | None:
        """First parent, or None for a root commit."""
        out = self._try("rev-parse", "--verify", "--quiet", f"{sha}^1^{{commit}}")
        return out.decode().strip() if out else None

    def default_branch(self, configured: str | None = None) -> str:
        """The branch a feature branch is judged against: the policy's, origin/HEAD, main, master."""
        candidates = []
        if configured:
            candidates += [configured, f"origin/{configured}"]
        out = self._try("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
        if out:
            candidates.append(out.decode().strip())
        candidates += ["main", "origin/main", "master", "origin/master"]
        for name in candidates:
            if self._try("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"):
                return name
        raise GitError(
            "cannot find the default branch (tried the policy's default_branch, origin/HEAD, "
            "main, master)",
            "name the base explicitly: promptaudit review BASE..HEAD",
        )

    @cached_property
    def _gitpython(self) -> Any:
        import git  # gitpython: only for commit-level plumbing, never on the hook's fast path

        return git.Repo(self.root if not self.bare else self.git_dir)

    def merge_base(self, a: str, b: str) -> str:
        bases = self._gitpython.merge_base(a, b)
        if not bases:
            raise GitError(
                f"'{a}' and '{b}' have no common ancestor",
                "name the base explicitly: promptaudit review BASE..HEAD",
            )
        return str(bases[0].hexsha)

    def commits(self, base: str | None, head: str) -> list[CommitInfo]:
        """Commits reachable from HEAD but not BASE, oldest first."""
        rev = f"{base}..{head}" if base else head
        out = []
        for c in self._gitpython.iter_commits(rev, reverse=True):
            out.append(
                CommitInfo(
                    sha=c.hexsha,
                    author_name=c.author.name or "",
                    author_email=c.author.email or "",
                    date=c.authored_datetime.isoformat(),
                    message=c.message if isinstance(c.message, str) else c.message.decode(),
                )
            )
        return out

    def range_commits(self, base: str | None, head: str, trailer: str) -> list[RangeCommit]:
        """Commits in BASE..HEAD, oldest first, with git's own parse of their TRAILER trailers."""
        fmt = (
            f"%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f"
            f"%(trailers:key={trailer},valueonly=true,separator=%x1d)%x1f"
        )
        rev = f"{base}..{head}" if base else head
        out = self.run(
            "log", "--reverse", "--no-renames", "--name-only", f"--format={fmt}", rev, "--"
        ).decode("utf-8", "replace")
        commits = []
        for rec in out.split("\x1e")[1:]:
            sha, name, email, date, subject, trailers, rest = rec.split("\x1f", 6)
            commits.append(
                RangeCommit(
                    sha=sha,
                    author_name=name,
                    author_email=email.lower(),
                    date=date,
                    subject=subject,
                    trailers=tuple(t.strip() for t in trailers.split("\x1d") if t.strip()),
                    paths=tuple(p for p in rest.split("\n") if p.strip()),
                )
            )
        return commits

    def message_trailers(self, message: bytes, trailer: str) -> list[str]:
        """Values of TRAILER in a commit message, by git's own trailer rules."""
        out = self.run("interpret-trailers", "--parse", stdin=message).decode("utf-8", "replace")
        values = []
        for line in out.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == trailer.lower() and value.strip():
                values.append(value.strip())
        return values

    def author_email(self) -> str | None:
        """Who the next commit will be by (GIT_AUTHOR_EMAIL or user.email), lower-cased."""
        out = self._try("var", "GIT_AUTHOR_IDENT")
        if not out:
            return None
        ident = out.decode("utf-8", "replace")
        start, end = ident.find("<"), ident.find(">")
        return ident[start + 1 : end].strip().lower() if 0 <= start < end else None

    def commit_signer(self, sha: str, allowed_signers: str) -> str | None:
        """The principal of a good signature on commit SHA, or None when it has none."""
        proc = subprocess.run(
            self._cmd(
                "-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "verify-commit", "-v", sha
            ),
            capture_output=True,
            env=_env(),
            check=False,
        )
        if proc.returncode != 0:
            return None
        err = proc.stderr.decode("utf-8", "replace")
        m = re.search(r'Good "git" signature for (\S+) with', err) or re.search(
            r'Good signature from "([^"]+)"', err
        )
        return m.group(1) if m else None

    def config(self, key: str) -> str | None:
        out = self._try("config", "--get", key)
        return out.decode().strip() if out else None

    # -- snapshots and changes --------------------------------------------------------

    def diff(self, base: str | None, head: str) -> list[Change]:
        """Changed paths from BASE (None: the empty tree) to HEAD (a commit, or INDEX)."""
        base_tree = base or self.empty_tree
        if head == INDEX:
            out = self.run("diff-index", "--cached", "-r", "-z", "-M", "--no-ext-diff", base_tree)
        else:
            out = self.run("diff-tree", "-r", "-z", "-M", "--no-ext-diff", base_tree, head)
        return parse_raw_diff(out)

    def blob_at(self, rev: str, path: str) -> str | None:
        """The blob id of PATH at REV (or in the index), None when absent."""
        spec = f":{path}" if rev == INDEX else f"{rev}:{path}"
        out = self._try("rev-parse", "--verify", "--quiet", spec)
        return out.decode().strip() if out else None

    def list_files(self, rev: str) -> dict[str, tuple[str, str]]:
        """Every file at REV (or in the index) as path -> (mode, blob id)."""
        files: dict[str, tuple[str, str]] = {}
        if rev == INDEX:
            for rec in self.run("ls-files", "-s", "-z").split(b"\0"):
                if not rec:
                    continue
                meta, _, path = rec.partition(b"\t")
                mode, sha, stage = meta.decode().split()
                if stage != "0":
                    raise GitError(
                        f"the index has unmerged paths ({path.decode('utf-8', 'replace')})",
                        "resolve the merge conflict first",
                    )
                files[path.decode("utf-8", "surrogateescape")] = (mode, sha)
            return files
        for rec in self.run("ls-tree", "-r", "-z", "--full-tree", rev).split(b"\0"):
            if not rec:
                continue
            meta, _, path = rec.partition(b"\t")
            mode, _kind, sha = meta.decode().split()
            files[path.decode("utf-8", "surrogateescape")] = (mode, sha)
        return files

    @property
    def blobs(self) -> BlobReader:
        if self._reader is None:
            self._reader = BlobReader(self._cmd("cat-file", "--batch"))
        return self._reader


def parse_raw_diff(out: bytes) -> list[Change]:
    """Parse `git diff-* -z` raw output (`:mode mode sha sha status\\0path[\\0path]\\0`)."""
    fields = out.split(b"\0")
    changes: list[Change] = []
    i = 0
    while i < len(fields):
        meta = fields[i]
        if not meta.startswith(b":"):
            i += 1
            continue
        old_mode, new_mode, old_sha, new_sha, status = meta[1:].decode().split()
        letter = status[0]
        first = fields[i + 1].decode("utf-8", "surrogateescape")
        old_path: str | None
        new_path: str | None
        if letter in "RC":
            second = fields[i + 2].decode("utf-8", "surrogateescape")
            i += 3
            old_path, new_path = first, second
        else:
            i += 2
            old_path = None if letter == "A" else first
            new_path = None if letter == "D" else first
        changes.append(
            Change(
                status=letter,
                old_path=old_path,
                new_path=new_path,
                old_blob=None if old_sha == _NULL_SHA or letter == "A" else old_sha,
                new_blob=None if new_sha == _NULL_SHA or letter == "D" else new_sha,
                old_mode=None if letter == "A" else old_mode,
                new_mode=None if letter == "D" else new_mode,
            )
        )
    return changes


class BlobReader:
    """One `git cat-file --batch` process serving every blob a run reads."""

    def __init__(self, cmd: Sequence[str]) -> None:
        self._proc = subprocess.Popen(
            list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env()
        )

    def read(self, name: str) -> bytes | None:
        """Contents of the object NAME (an id or `rev:path`), None when it does not exist."""
        stdin: IO[bytes] = self._proc.stdin  # type: ignore[assignment]
        stdout: IO[bytes] = self._proc.stdout  # type: ignore[assignment]
        if "\n" in name:
            return None
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        header = stdout.readline()
        if not header:
            raise GitError(
                "git cat-file stopped unexpectedly", "check the repository with git fsck"
            )
        parts = header.split()
        if len(parts) < 3 or parts[1] == b"missing":
            return None
        size = int(parts[2])
        data = stdout.read(size)
        stdout.read(1)  # the newline after the contents
        if parts[1] != b"blob":
            return None
        return data

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()


def run_git(cwd: str | os.PathLike[str], *args: str, env: dict[str, str] | None = None) -> str:
    """Run a git command that writes (init, add, commit) in a repository of promptaudit's own.

    Read paths go through `Repository`; this exists so that `demo`, which builds a repository
    of its own, still keeps every git call in this module. Variables a surrounding hook may
    have set (GIT_DIR, GIT_INDEX_FILE, ...) point at the user's repository, so they are dropped.
    """
    full_env = {k: v for k, v in _env().items() if k not in _REPO_VARS}
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", "-C", os.fspath(cwd), *args], capture_output=True, env=full_env, check=False
    )
    if proc.returncode != 0:
        first = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), "command")
        raise GitError(f"git {verb} failed: {first}", "")
    return proc.stdout.decode("utf-8", "replace")


_REPO_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_QUARANTINE_PATH",
    }
)
