"""`promptaudit policy --check`: is this policy file one that `review` will accept?

It reads the file the working tree holds (PATH, or the policy at the top of the repository,
found from any folder in it) and fails exactly where a review would: a file that does not
validate, two policy files at once, semantic matching without the extra installed. A policy
that says ok here never stops a review with a policy error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from promptaudit.errors import FatalError, GitError, PolicyError
from promptaudit.git import Repository
from promptaudit.policy import POLICY_FILES, Policy
from promptaudit.review import load_policy_file


@dataclass(frozen=True)
class Checked:
    """A policy file that passed, and the path to show for it."""

    path: str
    policy: Policy


def check_policy(repo_path: str, path: str | None = None) -> Checked:
    """Validate PATH, or the policy file at the top of the repository REPO_PATH is in."""
    if path is None:
        path = _find(repo_path)
        shown = _shown(path)
    else:
        shown = path
    policy = load_policy_file(path, hint="check the path of the policy file")
    if policy.matching == "semantic":
        from promptaudit.semantic import require_installed

        require_installed()
    return Checked(shown, policy)


def _find(repo_path: str) -> str:
    """The policy file `review` would read: at the top of the work tree, one of the two names.

    Outside a repository (a policy being written before `git init`) the folder itself is
    the top.
    """
    try:
        with Repository(repo_path) as repo:
            top = repo_path if repo.bare else repo.root
    except GitError:
        top = repo_path
    found = [p for name in POLICY_FILES if os.path.isfile(p := os.path.join(top, name))]
    if len(found) > 1:
        raise PolicyError(
            f"both promptaudit.toml and .promptaudit.toml exist in {top}",
            "keep one policy file and delete the other",
        )
    if not found:
        raise FatalError(
            f"no promptaudit.toml in {top}",
            "create one (promptaudit init proposes one), or start from: promptaudit policy --default",
        )
    return found[0]


def _shown(path: str) -> str:
    """PATH relative to the current folder when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith(os.pardir) else os.path.abspath(path)
