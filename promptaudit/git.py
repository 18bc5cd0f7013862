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
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from promptaudit.errors import GitError

if TYPE_CHECKING:
    from collections.abc import Sequence

INDEX = "INDEX"
MODE_SYMLINK = "120000"
MODE_SUBMODULE = "160000"
_NULL_SHA = "0" * 40


class Change(NamedTuple):
    """One path changed between two snapshots (raw diff record, renames paired by git).

    A NamedTuple rather than a dataclass: the hook imports this module on every commit, and
    dataclasses would bring `inspect` and its imports with it.
    """

    status: str  # A, D, M, R, T, C
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    old_mode: str | None
    new_mode: str | None


class RangeCommit(NamedTuple):
    """A commit of a reviewed range: who wrote it, its approval trailers, the paths it touched."""

    sha: str
    author_name: str
    author_email: str
    date: str
    subject: str
    trailers: tuple[str, ...]
    paths: tuple[str, ...]


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env.setdefault("LC_ALL", "C")
    # A hook runs with GIT_DIR set relative to the repository; we pass -C and keep it.
    return env


class Repository:
    """A git repository opened for reading."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        self.cwd = os.fspath(path)
        facts = (
            "rev-parse",
            "--is-bare-repository",
            "--absolute-git-dir",
            "--is-shallow-repository",
        )
        # One process in a work tree (the hook's case); a bare repository has no top level.
        out = self.try_run(*facts, "--show-toplevel") or self.try_run(*facts)
        if out is None:
            raise GitError(
                f"not a git repository: {os.path.abspath(self.cwd)}",
                "run promptaudit inside a git repository, or pass -C PATH",
            )
        bare, git_dir, shallow, *top = out.decode().splitlines()
        self.bare = bare == "true"
        self.git_dir = git_dir
        self.shallow = shallow == "true"
        self.root = git_dir if self.bare or not top else top[0]
        self._reader: BlobReader | None = None

    # -- process plumbing -------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        return ["git", "-C", self.cwd, "-c", "core.quotepath=off", *args]

    def try_run(self, *args: str, stdin: bytes | None = None) -> bytes | None:
        """Run git; its output, or None when it fails (for questions whose answer may be no)."""
        proc = subprocess.run(
            self._cmd(*args), input=stdin, capture_output=True, env=git_env(), check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        """Run git; a failure becomes a GitError carrying git's own first line."""
        try:
            proc = subprocess.run(
                self._cmd(*args), input=stdin, capture_output=True, env=git_env(), check=False
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
        out = self.try_run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
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

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.try_run("merge-base", "--is-ancestor", ancestor, descendant) is not None

    def head(self) -> str | None:
        """HEAD's commit id, or None in a repository with no commits yet."""
        out = self.try_run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        return out.decode().strip() if out else None

    @cached_property
    def empty_tree(self) -> str:
        return self.run("hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()

    def parent(self, sha: str) -> str | None:
        """First parent, or None for a root commit.

        In a shallow clone the oldest commits look parentless; judging one of them against
        the empty tree would pass a removal, so that is an error, not a root.
        """
        out = self.try_run("rev-parse", "--verify", "--quiet", f"{sha}^1^{{commit}}")
        if out:
            return out.decode().strip()
        if self.shallow and sha in self._shallow_boundary():
            raise GitError(
                f"the parent of {sha[:12]} is not in this shallow clone",
                "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)",
            )
        return None

    def _shallow_boundary(self) -> set[str]:
        """Commits whose parents a shallow clone cut off."""
        path = os.path.join(self.git_dir, "shallow")
        try:
            with open(path, encoding="ascii") as fh:
                return {line.strip() for line in fh if line.strip()}
        except OSError:
            return set()

    def default_branch(self, configured: str | None = None) -> str:
        """The branch a feature branch is judged against: the policy's, origin/HEAD, main, master."""
        candidates = []
        if configured:
            candidates += [configured, f"origin/{configured}"]
        out = self.try_run("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
        if out:
            candidates.append(out.decode().strip())
        candidates += ["main", "origin/main", "master", "origin/master"]
        for name in candidates:
            if self.try_run("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"):
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
        if not bases and self.shallow:
            raise GitError(
                f"'{a}' and '{b}' have no common ancestor in this shallow clone",
                "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)",
            )
        if not bases:
            raise GitError(
                f"'{a}' and '{b}' have no common ancestor",
                "name the base explicitly: promptaudit review BASE..HEAD",
            )
        return str(bases[0].hexsha)

    def range_commits(self, base: str | None, head: str, trailer: str) -> list[RangeCommit]:
        """Commits in BASE..HEAD, oldest first, with git's own parse of their TRAILER trailers."""
        fmt = (
            f"%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f"
            f"%(trailers:key={trailer},valueonly=true,separator=%x1d)%x1f"
        )
        rev = f"{base}..{head}" if base else head
        out = self.run(
            "log",
            "--reverse",
            "--no-renames",
            "--name-only",
            "--diff-merges=dense-combined",
            f"--format={fmt}",
            rev,
            "--",
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
        out = self.try_run("var", "GIT_AUTHOR_IDENT")
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
            env=git_env(),
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
        out = self.try_run("config", "--get", key)
        return out.decode().strip() if out else None

    def config_all(self, key: str) -> list[str]:
        """Every value of a multi-valued KEY, in order; [] when it is not set."""
        out = self.try_run("config", "--get-all", "-z", key)
        return [v.decode() for v in out.split(b"\0")[:-1]] if out else []

    # -- snapshots and changes --------------------------------------------------------

    def diff(self, base: str | None, head: str) -> list[Change]:
        """Changed paths from BASE (None: the empty tree) to HEAD (a commit, or INDEX)."""
        base_tree = base or self.empty_tree
        if head == INDEX:
            out = self.run("diff-index", "--cached", "-r", "-z", "-M", "--no-ext-diff", base_tree)
        else:
            out = self.run("diff-tree", "-r", "-z", "-M", "--no-ext-diff", base_tree, head)
        return parse_raw_diff(out)

    def staged_paths(self, head: str) -> list[str]:
        """Every path the index changes against HEAD (both sides of a rename)."""
        out = self.run("diff-index", "--cached", "--name-only", "-z", "--no-renames", head)
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def blob_at(self, rev: str, path: str) -> str | None:
        """The blob id of PATH at REV (or in the index), None when absent."""
        return self.blobs.object_id(f":{path}" if rev == INDEX else f"{rev}:{path}")

    def list_files(self, rev: str) -> dict[str, tuple[str, str]]:
        """Every file at REV (or in the index) as path -> (mode, blob id)."""
        files: dict[str, tuple[str, str]] = {}
        if rev == INDEX:
            # From the top level: run in a subfolder, ls-files would list only that folder,
            # with paths relative to it.
            for rec in self.run("-C", self.root, "ls-files", "-s", "-z").split(b"\0"):
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

    def names_of(self, path: str) -> set[str]:
        """Every path the file at PATH had in the history of HEAD (git's rename following)."""
        out = self.try_run("log", "--follow", "--name-only", "-z", "--format=", "--", path)
        return {
            p.decode("utf-8", "surrogateescape") for p in (out or b"").split(b"\0") if p.strip()
        }

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        """A streaming git process (for `git log -p` over a long history); read its stdout."""
        return subprocess.Popen(
            self._cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env()
        )

    @property
    def blobs(self) -> BlobReader:
        if self._reader is None:
            self._reader = BlobReader(self._cmd("cat-file", "--batch"))
        return self._reader

    # -- what `import` needs to know before it writes ----------------------------------

    def current_branch(self) -> str | None:
        """The full name of the checked-out branch (refs/heads/...), None when HEAD is detached."""
        out = self.try_run("symbolic-ref", "--quiet", "HEAD")
        return out.decode().strip() if out else None

    def worktree_changes(self) -> list[str]:
        """Paths with staged, unstaged or untracked changes (ignored files are not counted)."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=normal")
        entries = iter(out.split(b"\0"))
        paths = []
        for entry in entries:
            if not entry:
                continue
            paths.append(entry[3:].decode("utf-8", "surrogateescape"))
            if entry[:1] in (b"R", b"C"):
                next(entries, None)  # the rename's old path
        return paths

    def commit_messages(self, rev: str, *, grep: str | None = None) -> list[str]:
        """The full message of every commit reachable from REV (containing GREP), newest first."""
        where = ["--fixed-strings", f"--grep={grep}"] if grep else []
        out = self.run("log", "--format=%B%x00", *where, rev, "--")
        return [m.strip("\n") for m in out.decode("utf-8", "replace").split("\0")[:-1]]

    # -- what git hooks need ----------------------------------------------------------

    def git_path(self, name: str) -> str:
        """The absolute path git uses for NAME under the git dir.

        Git's own relocation rules apply: `hooks` honors core.hooksPath, `index` honors
        GIT_INDEX_FILE (the temporary index of `git commit -a` or `git commit <path>`).
        """
        out = self.run("rev-parse", "--path-format=absolute", "--git-path", name)
        return out.decode("utf-8", "surrogateescape").rstrip("\n")

    def commit_of(self, rev: str) -> str | None:
        """The commit REV peels to; None when it names no commit (unknown, a tree, a blob)."""
        out = self.try_run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
        return out.decode().strip() if out else None

    def common_ancestor(self, a: str, b: str) -> str | None:
        """merge-base of A and B, None for unrelated histories.

        Plain `git merge-base` rather than gitpython: hooks call it, and in pre-receive the
        pushed objects sit in a quarantine that only the inherited environment reveals.
        """
        proc = subprocess.run(
            self._cmd("merge-base", "--end-of-options", a, b),
            capture_output=True,
            env=git_env(),
            check=False,
        )
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
        if proc.returncode == 1 and not proc.stderr.strip():
            return None
        first = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        raise GitError(f"git merge-base failed: {first}", "")

    def symbolic_ref(self, name: str) -> str | None:
        """The ref NAME points to (HEAD -> refs/heads/main), None when it is not symbolic."""
        out = self.try_run("symbolic-ref", "--quiet", name)
        return out.decode().strip() if out else None

    def merge_heads(self) -> list[str]:
        """The commits an unfinished merge brings in (MERGE_HEAD; several for an octopus)."""
        path = self.git_path("MERGE_HEAD")
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                lines = fh.read().split()
        except FileNotFoundError:
            return []
        heads = []
        for line in lines:
            sha = self.commit_of(line)
            if sha is None:
                raise GitError(
                    f"MERGE_HEAD names an unknown commit {line[:12]}",
                    "finish or abort the merge (git merge --abort)",
                )
            heads.append(sha)
        return heads

    def fetch_heads_for_merge(self) -> list[str]:
        """The commits `git pull` is merging: FETCH_HEAD's entries not marked not-for-merge."""
        path = self.git_path("FETCH_HEAD")
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return []
        heads = []
        for line in lines:
            sha, _, rest = line.partition("\t")
            if rest.startswith("not-for-merge"):
                continue
            commit = self.commit_of(sha.strip())
            if commit is not None:
                heads.append(commit)
        return heads

    def index_tree(self) -> str:
        """The tree the next commit would record: the index git points at, written as a tree.

        It writes from a copy of that index, so neither the index nor the lock a running
        `git commit` holds on it is touched.
        """
        import shutil
        import tempfile

        index = self.git_path("index")
        with tempfile.TemporaryDirectory(prefix="promptaudit-index-") as tmp:
            copy = os.path.join(tmp, "index")
            try:
                shutil.copyfile(index, copy)
            except OSError as exc:
                raise GitError(
                    f"cannot read the index {index}: {exc.strerror}", "check git status"
                ) from None
            proc = subprocess.run(
                self._cmd("write-tree"),
                capture_output=True,
                env={**git_env(), "GIT_INDEX_FILE": copy},
                check=False,
            )
        if proc.returncode != 0:
            first = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
            raise GitError(f"git write-tree failed: {first}", "resolve conflicts in the index")
        return proc.stdout.decode().strip()

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree git's own merge of two commits produces (conflicted files with markers).

        None when git cannot say (git older than 2.38, unrelated histories, an error).
        """
        proc = subprocess.run(
            self._cmd("merge-tree", "--write-tree", "--no-messages", ours, theirs),
            capture_output=True,
            env=git_env(),
            check=False,
        )
        if proc.returncode not in (0, 1) or not proc.stdout:
            return None
        return proc.stdout.split(b"\n", 1)[0].decode().strip() or None

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """Write a commit object that no ref points to (a candidate to review), return its id."""
        args = ["commit-tree", "--no-gpg-sign", "-m", message]
        for p in parents:
            args += ["-p", p]
        return self.run(*args, tree).decode().strip()


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
            list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=git_env()
        )

    def read(self, name: str) -> bytes | None:
        """Contents of the blob NAME (an id or `rev:path`), None when it is no blob."""
        found = self._object(name)
        return found[2] if found is not None and found[1] == "blob" else None

    def kind(self, name: str) -> str | None:
        """The type of the object NAME (blob, tree, commit, tag), None when it does not exist."""
        found = self._object(name)
        return found[1] if found is not None else None

    def object_id(self, name: str) -> str | None:
        """The id of the object NAME, None when it does not exist."""
        found = self._object(name)
        return found[0] if found is not None else None

    def read_first(self, names: Sequence[str]) -> bytes | None:
        """Contents of the first of NAMES that is a blob, None when none is: one round trip
        to git for all of them (a few short names: the requests never fill the pipe)."""
        stdin: IO[bytes] = self._proc.stdin  # type: ignore[assignment]
        asked = [n for n in names if "\n" not in n]
        stdin.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in asked))
        stdin.flush()
        found = [self._answer() for _ in asked]
        return next((f[2] for f in found if f is not None and f[1] == "blob"), None)

    def _object(self, name: str) -> tuple[str, str, bytes] | None:
        """(id, type, contents) of the object NAME."""
        stdin: IO[bytes] = self._proc.stdin  # type: ignore[assignment]
        if "\n" in name:
            return None
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        return self._answer()

    def _answer(self) -> tuple[str, str, bytes] | None:
        stdout: IO[bytes] = self._proc.stdout  # type: ignore[assignment]
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
        return parts[0].decode(), parts[1].decode(), data

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
