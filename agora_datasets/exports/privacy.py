"""What an export may say about the people behind the judgments.

Judges appear as salted pseudonyms: HMAC-SHA256 of the stored judge label keyed by a per-export salt, so
one annotator has one pseudonym within an export and unlinkable ones across exports. The salt is random
unless one is given (to reproduce an export byte for byte), and is never written anywhere. Exports read no
user table: no email, name or IP address can reach a file, and metadata keys that could hold one are dropped.

``release`` mode is for data that leaves the team: it also drops the free-text judgment fields a project
marks private (``Project.config["private_fields"]``, e.g. ``["rationale"]``) from that project's judgments,
and pseudonymizes the raw format's judges too (raw otherwise keeps the stored labels so that it re-imports).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field

from annotation.models import Judgment, Project

# Judgment fields a project may mark private, and what they become.
PRIVATE_FIELDS = {"rationale": "", "metadata": {}, "principles": {}}
# "address": the arena keeps a voter's network address as a keyed hash (arena/voters.py); the same hash in
# every export would link a judge across exports, whatever pseudonym each export gives them.
IDENTIFYING_KEY = re.compile(
    r"(^|_)(ip|ips|ip_address|address|remote_addr|x_forwarded_for|email|e_mail|mail)($|_)", re.I
)


def new_salt() -> str:
    return secrets.token_hex(16)


def pseudonym(label: str, salt: str) -> str:
    return "j-" + hmac.digest(salt.encode("utf-8"), label.encode("utf-8"), "sha256").hex()[:20]


def scrub(value):
    """A metadata value without keys that name an IP address or an email (at any depth)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not IDENTIFYING_KEY.search(str(k).replace("-", "_"))}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def scrub_raw(row: dict) -> dict:
    """A raw row (exports/raw.py) with its comparison's, candidates' and judgment's metadata scrubbed."""
    row["comparison"]["metadata"] = scrub(row["comparison"]["metadata"])
    for candidate in row["candidates"]:
        candidate["metadata"] = scrub(candidate["metadata"])
    row["judgment"]["metadata"] = scrub(row["judgment"].get("metadata") or {})
    return row


def private_fields_by_project() -> dict[int, frozenset[str]]:
    result = {}
    for pk, config in Project.objects.values_list("id", "config"):
        names = (config or {}).get("private_fields") or []
        result[pk] = frozenset(n for n in names if n in PRIVATE_FIELDS)
    return result


@dataclass
class Privacy:
    salt: str = field(default_factory=new_salt)
    release: bool = False
    private: dict[int, frozenset[str]] = field(default_factory=dict)
    # label → pseudonym: a judge has many judgments, and an export asks for each one's.
    pseudonyms: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(cls, *, salt: str | None = None, release: bool = False) -> Privacy:
        return cls(salt=salt or new_salt(), release=release, private=private_fields_by_project() if release else {})

    def pseudonym(self, label: str) -> str:
        found = self.pseudonyms.get(label)
        if found is None:
            found = self.pseudonyms[label] = pseudonym(label, self.salt)
        return found

    def judge(self, judgment: Judgment | None) -> str | None:
        return self.pseudonym(judgment.judge) if judgment is not None else None

    def hidden(self, judgment: Judgment, name: str) -> bool:
        """Whether release mode drops this field of this judgment."""
        project = getattr(judgment, "project_id", None)
        return self.release and project is not None and name in self.private.get(project, ())

    def rationale(self, judgment: Judgment) -> str:
        return "" if self.hidden(judgment, "rationale") else judgment.rationale

    def judgment_fields(self, values: dict, judgment: Judgment) -> dict:
        """A raw row's judgment fields, as this export may show them."""
        values = dict(values, metadata=scrub(values.get("metadata") or {}))
        for name, empty in PRIVATE_FIELDS.items():
            if name in values and self.hidden(judgment, name):
                values[name] = empty
        if self.release:
            values["judge"] = self.pseudonym(values["judge"])
        return values
