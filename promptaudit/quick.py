"""Can a staged change pass without being read? The hook's common case, decided cheaply.

Most commits touch no prompt. This answers yes only when nothing the change touches could
matter: no path under the prompt globs of the policy at HEAD, not the policy file, not
CODEOWNERS, nothing under .promptaudit/, not the allowed-signers file. Any doubt (no HEAD
yet, two policy files, a policy that does not parse) answers no, and the full review gives
the authoritative verdict or the error. It imports neither the policy model nor the audit.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from promptaudit.globs import Globs
from promptaudit.names import POLICY_FILES, RESERVED_PREFIX

if TYPE_CHECKING:
    from promptaudit.git import Repository

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

_WATCHED = (*POLICY_FILES, "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS")
_DEFAULT = os.path.join(os.path.dirname(__file__), "default_policy.toml")


def nothing_to_audit(repo: Repository) -> bool:
    """True only when the staged change cannot hold a finding."""
    head = repo.head()
    if head is None:
        return False
    try:
        paths = repo.staged_paths(head)
        found = [d for n in POLICY_FILES if (d := repo.blobs.read(f"{head}:{n}")) is not None]
        if len(found) > 1:
            return False
        data: dict[str, Any] = tomllib.loads(found[0].decode("utf-8-sig")) if found else {}
        prompts = data.get("prompts")
        if prompts is None:
            if found and data.get("extends") != "default":
                return False
            with open(_DEFAULT, encoding="utf-8") as fh:
                prompts = tomllib.loads(fh.read())["prompts"]
        if not prompts or not isinstance(prompts, list):
            return False  # `prompts = []` is an error the full review reports
        if not all(isinstance(p, str) for p in prompts):
            return False
        signers = data.get("allowed_signers")
        globs = Globs(tuple(prompts))
        return not any(
            p in _WATCHED or p.startswith(RESERVED_PREFIX) or p == signers or globs.match(p)
            for p in paths
        )
    except Exception:  # anything unexpected: let the full review decide
        return False
