"""The command line: parse options, call the core, render, return the exit code.

Heavy modules are imported inside the commands that need them, so the hook (`check`) starts
with nothing but the standard library, click and promptaudit's own light modules.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from promptaudit import __version__
from promptaudit.entry import report_fatal, report_internal
from promptaudit.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, FatalError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from promptaudit.findings import Review

FORMATS = ("table", "json", "markdown", "sarif")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="promptaudit")
def cli() -> None:
    """Block unreviewed removals and weakenings of guardrails in LLM system prompts."""


def _repo_option(f: Any) -> Any:
    return click.option(
        "-C",
        "--repo",
        "repo_path",
        default=".",
        metavar="PATH",
        show_default=True,
        help="Run as if started in PATH.",
    )(f)


def _view_format(f: Any) -> Any:
    """--format of the reader's views (log, show), which have no SARIF."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(("table", "json", "markdown")),
        default="table",
        show_default=True,
    )(f)


@cli.command()
@click.argument("revisions", required=False, metavar="[BASE..HEAD | REV]")
@click.option(
    "--base",
    "base",
    metavar="REF",
    help="What this branch changes since it left REF: REF...HEAD (from the merge base).",
)
@click.option("--staged", is_flag=True, help="Audit the index against HEAD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--policy",
    "policy_path",
    metavar="PATH",
    help="Judge with this policy file instead of the one committed at BASE.",
)
@click.option(
    "--approved-by",
    "approved_by",
    multiple=True,
    metavar="EMAIL",
    help="An approval given outside git (CI passes the code host's approving reviewers).",
)
@click.option(
    "--message-file",
    "message_file",
    metavar="PATH",
    help="Also read Guardrail-Approved-by trailers from this commit message.",
)
@click.option("-o", "--output", "output", metavar="FILE", help="Write the report to FILE.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; only the exit code speaks.")
@_repo_option
def review(
    revisions: str | None,
    base: str | None,
    staged: bool,
    fmt: str,
    policy_path: str | None,
    approved_by: tuple[str, ...],
    message_file: str | None,
    output: str | None,
    quiet: bool,
    repo_path: str,
) -> int:
    """Audit a change: BASE..HEAD, one commit REV, or this branch against the default branch.

    Exit codes: 0 nothing blocking, 1 blocking findings without approval, 2 error.
    """
    result = _review(
        repo_path,
        revisions,
        base=base,
        staged=staged,
        policy_path=policy_path,
        approved_by=approved_by,
        message_file=message_file,
    )
    if not quiet or output:
        from promptaudit.report import render

        text = render(result, fmt, color=output is None and fmt == "table" and _color())
        if output:
            _write_output(output, text)
        elif not quiet:
            click.echo(text, nl=not text.endswith("\n"))
    return EXIT_BLOCKED if result.blocked else EXIT_OK


@cli.command()
@click.option(
    "--message-file",
    "message_file",
    metavar="PATH",
    help="The commit message being written (the commit-msg hook's $1).",
)
@click.option("--policy", "policy_path", metavar="PATH", help="Judge with this policy file.")
@click.option(
    "--warn-only",
    is_flag=True,
    help="Only note what needs an approval, exit 0 (the pre-commit stage).",
)
@_repo_option
def check(
    message_file: str | None, policy_path: str | None, warn_only: bool, repo_path: str
) -> int:
    """The hook: audit the staged change; silent when nothing blocks."""
    result = _review(
        repo_path, None, staged=True, policy_path=policy_path, message_file=message_file
    )
    if result.blocked:
        from promptaudit.report import render_check, render_notice

        click.echo(render_notice(result) if warn_only else render_check(result), err=True, nl=False)
        return EXIT_OK if warn_only else EXIT_BLOCKED
    return EXIT_OK


@cli.command()
@click.option("--default", "show_default", is_flag=True, help="Print the built-in default policy.")
@click.option("--check", "check", is_flag=True, help="Validate a policy file (the default).")
@click.argument("check_path", required=False, metavar="[PATH]")
@_repo_option
def policy(show_default: bool, check: bool, check_path: str | None, repo_path: str) -> int:
    """Print the built-in policy, or validate a policy file (PATH, or the repository's).

    Exit codes: 0 the policy is valid, 2 it is not (the first problem, with a hint).
    """
    from promptaudit.policy_load import default_policy_text

    if show_default:
        if check or check_path:
            raise click.UsageError(
                "--default prints the built-in policy; it takes no --check or PATH"
            )
        click.echo(default_policy_text(), nl=False)
        return EXIT_OK
    from promptaudit.policy_check import check_policy

    checked = check_policy(repo_path, check_path)
    loaded = checked.policy
    click.echo(
        f"{checked.path}: ok ({len(loaded.guardrails)} guardrails, {len(loaded.forbidden)} "
        f"forbidden, block_at = {loaded.block_at})"
    )
    return EXIT_OK


@cli.command()
@click.argument("revisions", required=False, metavar="[BASE..HEAD | REV]")
@click.option(
    "--base",
    "base",
    metavar="REF",
    help="What this branch changes since it left REF: REF...HEAD (from the merge base).",
)
@click.option(
    "--expires",
    metavar="DAYS|DATE",
    help="The approval stops counting after this many days, or on this date (YYYY-MM-DD).",
)
@click.option(
    "--key", metavar="PATH", help="SSH key to sign with (default: git's user.signingkey)."
)
@_repo_option
def approve(
    revisions: str | None, base: str | None, expires: str | None, key: str | None, repo_path: str
) -> int:
    """Sign an approval of the blocking findings of a change, as a reviewer.

    Writes a record and its SSH signature under .promptaudit/approvals/; commit both with
    the change. Never touches history.
    """
    from promptaudit.approve import approve_change

    result = approve_change(repo_path, revisions, base=base, expires=expires, key=key)
    for line in result:
        click.echo(line)
    return EXIT_OK


@cli.command(name="log")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@click.option("--since", metavar="REV|DATE", help="Start after this revision, or at this date.")
@click.option("--until", metavar="REV|DATE", help="End at this revision, or at this date.")
@click.option("--guardrail", metavar="ID", help="Only events of this guardrail or forbidden entry.")
@click.option(
    "--unapproved",
    is_flag=True,
    help="Only blocking events that went in without a counting approval (exit 1 if any).",
)
@click.option("--first-parent", is_flag=True, help="Follow only the first parent of merges.")
@_view_format
@_repo_option
def log_cmd(
    paths: tuple[str, ...],
    since: str | None,
    until: str | None,
    guardrail: str | None,
    unapproved: bool,
    first_parent: bool,
    fmt: str,
    repo_path: str,
) -> int:
    """Guardrail events commit by commit: when a guardrail changed, who did it, who approved."""
    from promptaudit.git import Repository
    from promptaudit.history import LogOptions, Unjudged, count, walk

    options = LogOptions(paths, since, until, guardrail, unapproved, first_parent)
    unjudged: list[Unjudged] = []
    with Repository(repo_path) as repo:
        if repo.head() is None:
            raise FatalError("the repository has no commits yet", "commit first")
        with _Progress("promptaudit log", lambda: count(repo, options)) as progress:
            events = list(
                walk(repo, options, progress, while_git_starts=_load_log_modules, unjudged=unjudged)
            )
    from promptaudit.views import render_log

    click.echo(render_log(events, fmt, unjudged), nl=False)
    if unjudged:
        # The events are all there; the history they come from is not all judged.
        first = unjudged[0]
        report_fatal(
            FatalError(
                f"{len(unjudged)} commit(s) could not be judged; the first, {first.commit[:12]}: "
                + first.error,
                first.hint,
            )
        )
        return EXIT_ERROR
    return EXIT_BLOCKED if unapproved and events else EXIT_OK


@cli.command(name="show")
@click.argument("spec", metavar="PATH[@REV]")
@_view_format
@_repo_option
def show_cmd(spec: str, fmt: str, repo_path: str) -> int:
    """One prompt as the audit sees it: each clause with the guardrails it carries."""
    from promptaudit.show import show
    from promptaudit.views import render_show

    click.echo(render_show(show(repo_path, spec), fmt), nl=False)
    return EXIT_OK


def _load_log_modules() -> None:
    """Import what the end of a log needs (the table renderer, the approval weighing)."""
    import tabulate  # noqa: F401

    import promptaudit.gather
    import promptaudit.views  # noqa: F401


class _Progress:
    """A progress bar on stderr for walks longer than a second, only on a terminal.

    The total is asked for (one `git rev-list --count`) only once the bar is due, so a short
    walk, or one whose stderr is a file or a pipe, never pays for it. PROMPTAUDIT_PROGRESS_DELAY
    sets the delay in seconds (default 1).
    """

    WIDTH = 24

    def __init__(self, label: str, total: Callable[[], int | None]) -> None:
        import time

        self.label = label
        self.start = time.monotonic()
        self.shown = False
        self.enabled = sys.stderr.isatty()
        self._clock = time.monotonic
        self._total_of = total
        self._total: int | None = None
        try:
            self.delay = float(os.environ.get("PROMPTAUDIT_PROGRESS_DELAY", "1"))
        except ValueError:
            self.delay = 1.0

    def __call__(self, n: int) -> None:
        if not self.enabled or n % 25 or self._clock() - self.start < self.delay:
            return
        if not self.shown:
            self._total = self._total_of()
        self.shown = True
        total = self._total
        if total and n <= total:
            done = self.WIDTH * n // total
            bar = "#" * done + "." * (self.WIDTH - done)
            line = f"{self.label} [{bar}] {n:,}/{total:,} commits"
        else:
            line = f"{self.label}: {n:,} commits read"
        click.echo(f"\r{line}", err=True, nl=False)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)


@cli.command()
@click.option("--keep", metavar="DIR", help="Build the demo repository in DIR and keep it.")
def demo(keep: str | None) -> int:
    """Walk through promptaudit on a throw-away repository (no network, no setup)."""
    from promptaudit.demo import run_demo

    run_demo(click.echo, keep=keep, color=_color())
    return EXIT_OK


# Hook names only: the hook modules themselves load when a hook command runs.
HOOK_NAMES = ("commit-msg", "pre-commit", "pre-merge-commit", "pre-push", "pre-receive")
HOOK_COMMANDS = (*HOOK_NAMES, "framework-commit-msg", "framework-push")


@cli.command("install-hooks")
@click.option(
    "--hook",
    "hook_names",
    multiple=True,
    type=click.Choice(HOOK_NAMES),
    help="Install only this hook (repeatable). Default: the client hooks; pre-receive in a "
    "bare repository.",
)
@click.option("--chain", is_flag=True, help="Keep a foreign hook: move it aside, run it first.")
@click.option("--uninstall", is_flag=True, help="Remove our hooks and restore chained ones.")
@_repo_option
def install_hooks(hook_names: tuple[str, ...], chain: bool, uninstall: bool, repo_path: str) -> int:
    """Install the git hooks where git looks for them (core.hooksPath honored).

    Never overwrites a hook that is not promptaudit's: it refuses, or with --chain moves it
    aside and runs it first with the same arguments and input.
    """
    from promptaudit import hook_scripts
    from promptaudit.git import Repository

    with Repository(repo_path) as repo:
        if uninstall:
            actions = hook_scripts.uninstall(repo, hook_names)
        else:
            actions = hook_scripts.install(repo, hook_names, chain=chain)
    for action in actions:
        click.echo(action.describe())
    return EXIT_OK


@cli.command(
    "hook",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@_repo_option
@click.argument("name", type=click.Choice(HOOK_COMMANDS), metavar="NAME")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(repo_path: str, name: str, args: tuple[str, ...]) -> int:
    """Run one git hook's logic (the scripts install-hooks writes call this).

    NAME is commit-msg FILE, pre-commit, pre-merge-commit, pre-push REMOTE URL (refs on
    stdin), pre-receive (refs on stdin), or framework-commit-msg / framework-push for the
    pre-commit framework. Gating hooks exit 1 when blocked and 2 on any error.
    """
    from promptaudit.hooks import run_hook

    return run_hook(name, args, repo_path=repo_path, stdin=sys.stdin.buffer)


@cli.command("import")
@click.argument("file", metavar="FILE")
@click.option(
    "--into",
    "into",
    required=True,
    metavar="DIR",
    help="The repository to build or extend (a new or empty folder is initialized).",
)
def import_cmd(file: str, into: str) -> int:
    """Commit a JSON-lines history of prompt versions (FILE, or - for stdin) into a repository.

    One commit per source change, with its author and date; changes imported before are
    skipped. The schema is in docs/import.md.
    """
    from promptaudit.importer import import_history

    for line in import_history(file, into).lines():
        click.echo(line)
    return EXIT_OK


@cli.command("init")
@click.option(
    "--prompts",
    "globs",
    multiple=True,
    metavar="GLOB",
    help="Where the prompt files are (repeatable). Default: the built-in policy's globs.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing promptaudit.toml.")
@click.option("--dry-run", is_flag=True, help="Print the proposed policy; write nothing.")
@_repo_option
def init_cmd(globs: tuple[str, ...], force: bool, dry_run: bool, repo_path: str) -> int:
    """Propose a first promptaudit.toml from the prompts already in the repository.

    Each clause that reads like a safety rule becomes a required guardrail of its file. Reads
    tracked and staged files; writes only the policy file (never git add or commit).
    """
    from promptaudit.init import init_policy, render_summary

    result = init_policy(repo_path, globs, force=force, dry_run=dry_run)
    if dry_run:  # the policy alone on stdout, so that it can be redirected
        click.echo(result.toml, nl=False)
        click.echo(render_summary(result), err=True, nl=False)
    else:
        click.echo(render_summary(result), nl=False)
    return EXIT_OK


def _review(
    repo_path: str,
    revisions: str | None,
    *,
    base: str | None = None,
    staged: bool = False,
    policy_path: str | None = None,
    approved_by: Sequence[str] = (),
    message_file: str | None = None,
) -> Review:
    from promptaudit.git import Repository
    from promptaudit.review import ApprovalInput, resolve_range, run_review

    given = ApprovalInput(tuple(approved_by), message_file)
    with Repository(repo_path) as repo:
        rng = resolve_range(repo, revisions, base=base, staged=staged)
        return run_review(repo, rng, policy_override=policy_path, approvals=given)


def _write_output(path: str, text: str) -> None:
    """Write a report to PATH; a path that cannot be written is the user's to fix, so it
    gets one line with the cause and a hint, like any other user error."""
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except IsADirectoryError:
        raise FatalError(
            f"cannot write {path}: it is a directory",
            f"name a file: -o {os.path.join(path, 'promptaudit-report.txt')}",
        ) from None
    except FileNotFoundError:
        parent = os.path.dirname(path)
        raise FatalError(
            f"cannot write {path}: no such directory",
            (f"create {parent} first, or " if parent else "")
            + "name a file in an existing directory",
        ) from None
    except NotADirectoryError:
        raise FatalError(
            f"cannot write {path}: a part of the path is a file, not a directory",
            "name a file in an existing directory",
        ) from None
    except OSError as exc:
        raise FatalError(
            f"cannot write {path}: {(exc.strerror or type(exc).__name__).lower()}",
            "check the path and that you may write there",
        ) from None


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every failure becomes exit 2 with one line and a hint, never a traceback."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="promptaudit",
            standalone_mode=False,
        )
    except FatalError as exc:
        report_fatal(exc)
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.Abort:
        click.echo("promptaudit: aborted", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # fail closed: an unexpected error must never pass the gate
        if os.environ.get("PROMPTAUDIT_DEBUG"):
            raise
        report_internal(exc)
        return EXIT_ERROR
    return int(rv) if isinstance(rv, int) else EXIT_OK
