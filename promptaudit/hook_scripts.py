"""The git hook scripts: one template for `hooks/` and for what `install-hooks` writes.

A script is a few lines of POSIX sh that hand over to `promptaudit hook NAME`, so the logic
is Python and tested as such. Each carries a marker line, which is how `install-hooks`
tells its own scripts (updated in place) from a foreign hook (never overwritten: refused, or
moved aside and chained with `--chain`, and restored byte for byte by `--uninstall`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptaudit.errors import FatalError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from promptaudit.git import Repository

HOOK_NAMES = ("commit-msg", "pre-commit", "pre-merge-commit", "pre-push", "pre-receive")
CLIENT_HOOKS = ("commit-msg", "pre-commit", "pre-merge-commit", "pre-push")
SERVER_HOOKS = ("pre-receive",)
# Hooks that git feeds on stdin: a chained hook and promptaudit must both see the same lines.
STDIN_HOOKS = frozenset({"pre-push", "pre-receive"})
# The one hook that only informs: it must never stop a commit, even when promptaudit is absent.
INFORMATIONAL = frozenset({"pre-commit"})
MARKER = "# promptaudit-hook: "
CHAINED_SUFFIX = ".promptaudit-chained"

_PURPOSE = {
    "commit-msg": "the local gate: audits the staged change with the message's approval trailers",
    "pre-commit": "informational: reports blocking findings early, never stops the commit",
    "pre-merge-commit": "audits what a merge brings in against the first parent",
    "pre-push": "audits every pushed range; catches commits made with --no-verify",
    "pre-receive": "server side: rejects ref updates that remove or weaken a guardrail",
}


class HookError(FatalError):
    kind = "hook error"


def hook_script(name: str, *, python: str | None = None, chained: bool = False) -> str:
    """The script for hook NAME.

    PYTHON (the installing interpreter) is a fallback for when `promptaudit` is not on PATH,
    e.g. a commit made from an editor that does not activate the virtualenv. CHAINED makes
    the script run the foreign hook moved aside next to it first, with the same arguments
    and the same stdin, and stop when that hook fails.
    """
    if name not in HOOK_NAMES:
        raise HookError(f"unknown hook {name!r}", "choose one of: " + ", ".join(HOOK_NAMES))
    stdin = name in STDIN_HOOKS
    feed = "feed | " if stdin else ""
    lines = [
        "#!/bin/sh",
        f"{MARKER}{name}",
        f"# {_PURPOSE[name][0].upper()}{_PURPOSE[name][1:]}.",
        f"# Install with `promptaudit install-hooks`; the logic is in `promptaudit hook {name}`.",
    ]
    if stdin:
        # Read stdin once; git's lines (shas and ref names) hold no NUL and end in a newline.
        lines += ["input=$(cat)", 'feed() { [ -z "$input" ] || printf \'%s\\n\' "$input"; }']
    if chained:
        lines += [
            f'if [ -x "$0{CHAINED_SUFFIX}" ]; then',
            f'    {feed}"$0{CHAINED_SUFFIX}" "$@" || exit $?',
            "fi",
        ]
    # The informational hook ignores even a crash of promptaudit itself: it must never block.
    done = "exit 0" if name in INFORMATIONAL else "exit $?"
    lines += [
        "if command -v promptaudit >/dev/null 2>&1; then",
        f'    {feed}promptaudit hook {name} "$@"; {done}',
        "fi",
    ]
    if python:
        quoted = shlex.quote(python)
        lines += [
            f"if [ -x {quoted} ]; then",
            f'    {feed}{quoted} -m promptaudit hook {name} "$@"; {done}',
            "fi",
        ]
    if name in INFORMATIONAL:
        lines += [
            f'echo "promptaudit: not found on PATH; the {name} hook is skipped" >&2',
            "exit 0",
        ]
    else:
        lines += [
            f'echo "promptaudit: not found on PATH; the {name} hook fails closed" >&2',
            'echo "hint: install promptaudit (pip install promptaudit) where this hook can'
            ' find it on PATH" >&2',
            "exit 1",
        ]
    return "\n".join(lines) + "\n"


def is_ours(path: str, name: str) -> bool:
    """True when PATH is a regular file carrying our marker for NAME.

    A symbolic link is never ours: updating it would write through to whatever it points at.
    """
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(3)]
    except OSError:
        return False
    return f"{MARKER}{name}\n" in head


@dataclass(frozen=True)
class Action:
    """One step of an install or uninstall, planned before anything is written."""

    name: str
    path: str
    verb: str  # install, update, unchanged, chain, remove, restore, foreign, absent

    def describe(self) -> str:
        where = self.path
        return {
            "install": f"installed {self.name}: {where}",
            "update": f"updated {self.name}: {where}",
            "unchanged": f"up to date {self.name}: {where}",
            "chain": f"installed {self.name}: {where} (runs the existing hook first: "
            f"{os.path.basename(where)}{CHAINED_SUFFIX})",
            "remove": f"removed {self.name}: {where}",
            "restore": f"removed {self.name} and restored the original: {where}",
            "foreign": f"left alone {self.name}: {where} (not promptaudit's)",
            "absent": f"not installed {self.name}: {where}",
        }[self.verb]


def default_hooks(bare: bool) -> tuple[str, ...]:
    """A bare repository only receives pushes; a working repository gets the client hooks."""
    return SERVER_HOOKS if bare else CLIENT_HOOKS


def hooks_dir(repo: Repository) -> str:
    """Where git looks for hooks (core.hooksPath honored), as an absolute path."""
    return repo.git_path("hooks")


def install(
    repo: Repository,
    names: Sequence[str] = (),
    *,
    chain: bool = False,
    python: str | None = None,
) -> list[Action]:
    """Install (or update) our hooks; refuse before writing anything if a foreign hook is there."""
    names = tuple(dict.fromkeys(names)) or default_hooks(repo.bare)
    directory = hooks_dir(repo)
    python = python if python is not None else sys.executable
    plan: list[tuple[Action, str]] = []
    for name in names:
        path = os.path.join(directory, name)
        aside = path + CHAINED_SUFFIX
        exists = os.path.lexists(path)
        if exists and not is_ours(path, name):
            if not chain:
                raise HookError(
                    f"a {name} hook that is not promptaudit's is in the way: {path}",
                    "rerun with --chain to keep it and run it before promptaudit",
                )
            if os.path.lexists(aside):
                raise HookError(
                    f"cannot chain {path}: {aside} already exists",
                    "move one of them out of the way, then rerun install-hooks --chain",
                )
            plan.append(
                (Action(name, path, "chain"), hook_script(name, python=python, chained=True))
            )
            continue
        text = hook_script(name, python=python, chained=os.path.lexists(aside))
        if not exists:
            plan.append((Action(name, path, "install"), text))
        elif _read(path) == text and os.access(path, os.X_OK):
            plan.append((Action(name, path, "unchanged"), text))
        else:
            plan.append((Action(name, path, "update"), text))
    with _writing(directory):
        os.makedirs(directory, exist_ok=True)
        for action, text in plan:
            if action.verb == "chain":
                os.rename(action.path, action.path + CHAINED_SUFFIX)
            if action.verb != "unchanged":
                _write_executable(action.path, text)
    return [action for action, _ in plan]


def uninstall(repo: Repository, names: Sequence[str] = ()) -> list[Action]:
    """Remove our hooks and put back any hook we chained, exactly as it was (a rename)."""
    named = tuple(dict.fromkeys(names))
    directory = hooks_dir(repo)
    actions = []
    for name in named or HOOK_NAMES:
        path = os.path.join(directory, name)
        aside = path + CHAINED_SUFFIX
        if os.path.lexists(path) and not is_ours(path, name):
            if named or os.path.lexists(aside):
                actions.append(Action(name, path, "foreign"))
            continue
        removed = os.path.lexists(path)
        with _writing(directory):
            if removed:
                os.remove(path)
            if os.path.lexists(aside):
                os.rename(aside, path)
                actions.append(Action(name, path, "restore"))
                continue
        if removed:
            actions.append(Action(name, path, "remove"))
        elif named:
            actions.append(Action(name, path, "absent"))
    return actions


@contextlib.contextmanager
def _writing(directory: str) -> Iterator[None]:
    """Turn a file system refusal into one line and a hint instead of a traceback."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or directory
        raise HookError(
            f"cannot write hooks in {directory}: {exc.strerror} ({where})",
            "check that you may write there (or point core.hooksPath elsewhere)",
        ) from None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _write_executable(path: str, text: str) -> None:
    """Write atomically (a half-written hook would fail every commit), mode rwxr-xr-x."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".promptaudit-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_folder(directory: str) -> list[str]:
    """Regenerate the repository's ready-made `hooks/` folder from the template.

    Run `python -m promptaudit.hook_scripts hooks` after changing the template; a test keeps
    the committed files equal to what this writes.
    """
    os.makedirs(directory, exist_ok=True)
    written = []
    for name in HOOK_NAMES:
        path = os.path.join(directory, name)
        _write_executable(path, hook_script(name))
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    for written_path in write_folder(sys.argv[1] if len(sys.argv) > 1 else "hooks"):
        print(written_path)
