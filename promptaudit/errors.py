"""Error kinds, caught once by the CLI and turned into one line and exit code 2."""

from __future__ import annotations

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2


class FatalError(Exception):
    """An error the user can fix; carries a one-line cause and a hint."""

    kind = "error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class PolicyError(FatalError):
    kind = "policy error"


class UsageError(FatalError):
    """Words on the command line that do not go together; nothing was read from git yet."""

    kind = "usage error"


class GitError(FatalError):
    kind = "git error"


class PromptError(FatalError):
    """A prompt file that cannot be read as a prompt (binary, oversized, unparsable)."""

    kind = "prompt error"
