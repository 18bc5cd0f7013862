"""Signed approvals: a record of exactly which findings a reviewer approved, signed with SSH.

The record binds the reviewer's email to each finding's fingerprint and to the blob ids of
the file before and after, with no line numbers, so it survives a rebase or squash of the
same change but not a different change (a replay). It is signed with `ssh-keygen -Y sign`
in the namespace below and verified against the allowed-signers file committed at BASE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptaudit.errors import FatalError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptaudit.findings import Finding

NAMESPACE = "promptaudit-approval"
APPROVALS_DIR = ".promptaudit/approvals"
RECORD_TYPE = "promptaudit-approval"


@dataclass(frozen=True)
class Record:
    reviewer: str
    created: str
    expires: str | None
    findings: tuple[dict[str, str | None], ...]

    def covers(self, finding: Finding) -> bool:
        return finding_binding(finding) in self.findings

    def expired(self, now: dt.datetime) -> bool:
        if not self.expires:
            return False
        return dt.datetime.fromisoformat(self.expires.replace("Z", "+00:00")) < now


def finding_binding(finding: Finding) -> dict[str, str | None]:
    """What an approval of FINDING binds to: never its line number."""
    return {
        "kind": finding.kind,
        "guardrail": finding.guardrail,
        "path": finding.path,
        "base_blob": finding.old_blob,
        "head_blob": finding.new_blob,
        "fingerprint": finding.fingerprint,
    }


def make_record(
    reviewer: str,
    findings: Sequence[Finding],
    *,
    now: dt.datetime,
    expires: dt.datetime | None = None,
) -> bytes:
    data: dict[str, Any] = {
        "type": RECORD_TYPE,
        "version": 1,
        "reviewer": reviewer.lower(),
        "created": now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": expires.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if expires
        else None,
        "findings": [finding_binding(f) for f in findings],
    }
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def record_name(record: bytes, reviewer: str) -> str:
    local = "".join(ch if ch.isalnum() else "-" for ch in reviewer.split("@", 1)[0].lower())
    return f"{APPROVALS_DIR}/{local}-{hashlib.sha256(record).hexdigest()[:12]}.json"


def parse_record(data: bytes) -> Record | None:
    """The record in DATA, or None when it is not a well-formed approval record."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(raw, dict) or raw.get("type") != RECORD_TYPE or raw.get("version") != 1:
        return None
    reviewer, findings = raw.get("reviewer"), raw.get("findings")
    if not isinstance(reviewer, str) or not isinstance(findings, list):
        return None
    if not all(isinstance(f, dict) for f in findings):
        return None
    expires = raw.get("expires")
    return Record(
        reviewer=reviewer.lower(),
        created=str(raw.get("created", "")),
        expires=expires if isinstance(expires, str) else None,
        findings=tuple(findings),
    )


def sign(record: bytes, key: str, *, hint: str = "") -> bytes:
    """RECORD's SSH signature made with KEY, or a FatalError; nothing is written anywhere.

    The record goes through standard input, so that a failed signature (a wrong key path, a
    key without its passphrase) leaves no unsigned record behind to be committed by mistake.
    """
    try:
        proc = subprocess.run(
            ["ssh-keygen", "-Y", "sign", "-f", key, "-n", NAMESPACE],
            input=record,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise FatalError(
            "ssh-keygen is not installed, so the approval cannot be signed",
            "install OpenSSH's client tools (ssh-keygen 8.1 or later)",
        ) from None
    if proc.returncode != 0 or not proc.stdout:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        first = ([ln for ln in said if ln != "Signing data on standard input"] or ["?"])[-1]
        raise FatalError(
            f"ssh-keygen could not sign the approval: {first}",
            hint or "set your SSH signing key: git config user.signingkey ~/.ssh/id_ed25519",
        )
    return proc.stdout


def verify(record: bytes, signature: bytes, allowed_signers: bytes, principal: str) -> bool:
    """True when SIGNATURE is PRINCIPAL's valid signature of RECORD under ALLOWED_SIGNERS."""
    with tempfile.TemporaryDirectory(prefix="promptaudit-") as tmp:
        allowed = os.path.join(tmp, "allowed_signers")
        sig = os.path.join(tmp, "record.sig")
        with open(allowed, "wb") as fh:
            fh.write(allowed_signers)
        with open(sig, "wb") as fh:
            fh.write(signature)
        proc = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                allowed,
                "-I",
                principal,
                "-n",
                NAMESPACE,
                "-s",
                sig,
            ],
            input=record,
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0
