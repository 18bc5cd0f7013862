"""The paths promptaudit gives meaning to in a repository.

Constants only, so that the fast paths (the hook's quick check, the start of a history walk)
can name them without loading the policy machinery.
"""

POLICY_FILES = ("promptaudit.toml", ".promptaudit.toml")
# Files promptaudit writes itself; never prompts, whatever the globs say.
RESERVED_PREFIX = ".promptaudit/"
