"""The git calls that write: repositories promptaudit builds itself (`demo`, `import`).

Reading the user's repository goes through `git.Repository`, which never writes; everything
that creates a repository, commits or moves a ref lives here, so the two never mix.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from promptaudit.errors import GitError
from promptaudit.git import git_env

if TYPE_CHECKING:
    from collections.abc import Sequence


def run_git(cwd: str | os.PathLike[str], *args: str, env: dict[str, str] | None = None) -> str:
    """Run a git command that writes (init, add, commit) in a repository of promptaudit's own.

    Variables a surrounding hook may have set (GIT_DIR, GIT_INDEX_FILE, ...) point at the
    user's repository, so they are dropped.
    """
    full_env = {k: v for k, v in git_env().items() if k not in _REPO_VARS}
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


def init_repository(path: str | os.PathLike[str], branch: str = "main") -> None:
    """Create an empty repository at PATH (a new or empty folder), on BRANCH.

    The branch is named here, not left to the user's init.defaultBranch, so that the same
    import gives the same repository on every machine. `symbolic-ref` rather than
    `init -b`: git before 2.28 has no -b.
    """
    run_git(path, "init", "-q")
    run_git(path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


@dataclass(frozen=True)
class Ident:
    """Who and when, as a commit records it: unix seconds and a `+hhmm` offset."""

    name: str
    email: str
    seconds: int
    offset: str

    def raw(self) -> bytes:
        return f"{self.name} <{self.email}> {self.seconds} {self.offset}".encode()


class FastImport:
    """One `git fast-import` process that appends commits to a scratch ref.

    Commits are marked :1, :2, ... in the order written; `close` returns their ids. The
    scratch ref only ever fast-forwards (fast-import refuses anything else), and the caller
    moves the real branch with `advance_branch` once the whole import has succeeded.
    """

    def __init__(self, cwd: str | os.PathLike[str], ref: str, parent: str | None) -> None:

        self._ref = ref
        self._parent = parent
        self._marks = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="promptaudit-import-")
        self._marks_path = os.path.join(self._tmp.name, "marks")
        self._err = open(os.path.join(self._tmp.name, "stderr"), "w+b")  # noqa: SIM115
        env = {k: v for k, v in git_env().items() if k not in _REPO_VARS}
        self._proc = subprocess.Popen(
            [
                "git",
                "-C",
                os.fspath(cwd),
                "fast-import",
                "--quiet",
                "--done",
                "--date-format=raw",
                f"--export-marks={self._marks_path}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            env=env,
        )

    def commit(
        self,
        author: Ident,
        committer: Ident,
        message: bytes,
        files: Sequence[tuple[str, bytes | None]],
    ) -> int:
        """Write one commit: each (path, contents) sets a file, (path, None) deletes it."""
        self._marks += 1
        out = [
            f"commit {self._ref}\nmark :{self._marks}\n".encode(),
            b"author " + author.raw() + b"\n",
            b"committer " + committer.raw() + b"\n",
            _data(message),
        ]
        if self._marks == 1 and self._parent:
            out.append(f"from {self._parent}\n".encode())
        elif self._marks > 1:
            out.append(f"from :{self._marks - 1}\n".encode())
        for path, contents in files:
            if contents is None:
                out.append(b"D " + _fi_path(path) + b"\n")
            else:
                out.append(b"M 100644 inline " + _fi_path(path) + b"\n" + _data(contents))
        out.append(b"\n")
        self._write(b"".join(out))
        return self._marks

    def _write(self, chunk: bytes) -> None:
        stdin: IO[bytes] = self._proc.stdin  # type: ignore[assignment]
        try:
            stdin.write(chunk)
        except BrokenPipeError:
            self._fail()

    def close(self) -> dict[int, str]:
        """Finish the stream; the commit id of every mark."""
        self._write(b"done\n")
        self._close_stdin()
        if self._proc.wait() != 0:
            self._fail()
        marks = {}
        with open(self._marks_path, encoding="ascii") as fh:
            for line in fh:
                mark, _, sha = line.strip().partition(" ")
                marks[int(mark.lstrip(":"))] = sha
        self._cleanup()
        return marks

    def abort(self) -> None:
        """Stop without finishing: nothing is written to the scratch ref."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._cleanup()

    def _fail(self) -> None:
        self._proc.wait()
        self._err.seek(0)
        lines = self._err.read().decode("utf-8", "replace").strip().splitlines()
        self._cleanup()
        first = next((ln for ln in lines if ln.startswith("fatal:")), lines[0] if lines else "?")
        raise GitError(f"git fast-import failed: {first}", "")

    def _close_stdin(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()

    def _cleanup(self) -> None:
        self._close_stdin()
        self._err.close()
        self._tmp.cleanup()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _fi_path(path: str) -> bytes:
    """A path in fast-import's C-style quoting, so spaces, quotes and newlines are safe."""
    out = bytearray(b'"')
    for byte in path.encode("utf-8", "surrogateescape"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def advance_branch(
    cwd: str | os.PathLike[str], branch: str, old: str | None, new: str, *, worktree: bool
) -> None:
    """Fast-forward BRANCH (checked out at OLD, None if unborn) to NEW, index and files too.

    `read-tree -m -u` refuses to overwrite local changes or untracked files, and `update-ref`
    with the old value refuses if someone moved the branch in the meantime.
    """
    if worktree:
        run_git(cwd, "read-tree", "-m", "-u", *([old] if old else []), new)
    run_git(cwd, "update-ref", "-m", "promptaudit import", branch, new, old or "")


def delete_ref(cwd: str | os.PathLike[str], ref: str) -> None:
    """Remove REF if it exists."""
    run_git(cwd, "update-ref", "-d", ref)
