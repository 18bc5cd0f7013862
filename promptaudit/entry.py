"""The console script: the hook's commands start without click; everything else goes to the CLI.

`promptaudit check` and `promptaudit hook NAME` run on every commit of every engineer. Their
arguments are few and fixed, so they are read here, and the process never imports click
(about 17 ms); any other command, `--help`, or an argument this reader does not know goes
to the full click interface, which gives the same results.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from promptaudit.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, FatalError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from promptaudit.git import Repository


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _fast_path(args)
    if fast is None:
        from promptaudit.cli import main as cli_main

        return cli_main(args)
    return run_guarded(fast)


def _fast_path(args: list[str]) -> Callable[[], int] | None:
    if not args or any(a in ("-h", "--help", "--version") for a in args):
        return None
    options: dict[str, str] = {}
    flags: set[str] = set()
    rest: list[str] = []
    command, words = args[0], args[1:]
    takes_value = {"-C": "repo", "--repo": "repo"}
    if command == "check":
        takes_value |= {"--message-file": "message_file", "--policy": "policy"}
    elif command != "hook":
        return None
    i = 0
    while i < len(words):
        word = words[i]
        key, _, inline = word.partition("=")
        if key in takes_value and (inline or i + 1 < len(words)):
            options[takes_value[key]] = inline if inline else words[i + 1]
            i += 1 if inline else 2
        elif command == "check" and word == "--warn-only":
            flags.add(word)
            i += 1
        elif word.startswith("-") and not rest:
            return None  # not ours to read: let click say what is wrong
        else:
            rest.append(word)
            i += 1
    repo = options.get("repo", ".")
    if command == "check":
        if rest:
            return None
        return lambda: _check(repo, options.get("message_file"), options.get("policy"), flags)
    if not rest:
        return None
    from promptaudit.hooks import NAMES

    if rest[0] not in NAMES:
        return None
    name, hook_args = rest[0], rest[1:]

    def hook() -> int:
        if name in ("commit-msg", "pre-commit"):
            from promptaudit.git import Repository

            with Repository(repo) as opened:
                if _nothing_staged_matters(opened):
                    return EXIT_OK
        from promptaudit.hooks import run_hook

        return run_hook(name, hook_args, repo_path=repo, stdin=sys.stdin.buffer)

    return hook


def _check(repo_path: str, message_file: str | None, policy: str | None, flags: set[str]) -> int:
    from promptaudit.git import Repository

    with Repository(repo_path) as repo:
        if policy is None and _nothing_staged_matters(repo):
            return EXIT_OK
        from promptaudit.review import ApprovalInput, resolve_range, run_review

        rng = resolve_range(repo, None, staged=True)
        result = run_review(
            repo, rng, policy_override=policy, approvals=ApprovalInput((), message_file)
        )
    if not result.blocked:
        return EXIT_OK
    from promptaudit.report import render_check, render_notice

    if "--warn-only" in flags:  # the pre-commit stage: the message, and its trailers, come later
        sys.stderr.write(render_notice(result))
        return EXIT_OK
    sys.stderr.write(render_check(result))
    return EXIT_BLOCKED


def _nothing_staged_matters(repo: Repository) -> bool:
    from promptaudit.quick import nothing_to_audit

    return nothing_to_audit(repo)


def report_fatal(exc: FatalError) -> None:
    """The one place a user error becomes words: one line with the cause, one with a hint."""
    sys.stderr.write(f"promptaudit: {exc.kind}: {exc.message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")


def report_internal(exc: BaseException) -> None:
    sys.stderr.write(f"promptaudit: internal error: {type(exc).__name__}: {exc}\n")
    sys.stderr.write(
        "hint: this is a bug; rerun with PROMPTAUDIT_DEBUG=1 and report the traceback\n"
    )


def run_guarded(action: Callable[[], int]) -> int:
    """Run ACTION failing closed: a user error is exit 2 with one line and a hint, and so is
    an unexpected one, never a pass and never a traceback."""
    try:
        return action()
    except FatalError as exc:
        report_fatal(exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("PROMPTAUDIT_DEBUG"):
            raise
        report_internal(exc)
        return EXIT_ERROR
