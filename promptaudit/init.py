"""`promptaudit init`: a first policy, proposed from the prompts a repository already has.

Each clause that reads like a safety rule on a known topic becomes a `[[guardrail]]` bound to
its own file by one phrase that only that clause of the file contains, and `required`, so that
deleting the clause is caught on the first review after adoption. Nothing here touches git
state: the repository is read through `Repository` and only the policy file is written.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from promptaudit.clauses import HEADING, ITEM, Clause, clauses_of
from promptaudit.errors import FatalError, GitError, PolicyError, PromptError
from promptaudit.formats import decode
from promptaudit.git import INDEX, MODE_SUBMODULE, MODE_SYMLINK, Repository
from promptaudit.globs import glob_to_regex
from promptaudit.matching import (
    is_directive,
    matched_span,
    reads_like_safety_rule,
    satisfies,
    satisfying,
    trips,
)
from promptaudit.policy import (
    DEFAULT_MAX_PROMPT_BYTES,
    POLICY_FILES,
    RESERVED_PREFIX,
    Globs,
    Guardrail,
    Policy,
)
from promptaudit.policy_load import default_policy, load_policy
from promptaudit.similarity import content_tokens
from promptaudit.text import normalize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

# Short topic names for the built-in guardrails (their severity comes from the built-in policy).
BUILTIN_TOPICS = {
    "minors-sexual-content": "minors",
    "non-consensual-intimate-imagery": "intimate-imagery",
    "self-harm": "self-harm",
    "mass-harm-weapons": "weapons",
    "hate-harassment": "hate",
    "private-personal-data": "privacy",
    "system-prompt-confidentiality": "confidentiality",
    "instruction-hierarchy": "hierarchy",
    "honesty": "honesty",
}
# Further topics found in prompts, tried in order after the built-in guardrails. The first
# rows catch wordings of the built-in topics that their patterns miss, with the same severity;
# every severity is at least "medium", the default block_at, so that deleting a clause blocks.
_INSTR = (
    r"(?:instructions above|above instructions|these instructions|your instructions|hidden "
    r"instructions|system message|system prompt|this prompt|your prompt)"
)
_KEEP = r"(?:secret\w*|confidential\w*|private|reproduc\w*|reveal\w*|disclos\w*|shar\w*|repeat\w*|leak\w*|quot\w*|recit\w*|show\w*)"
EXTRA_TOPICS: tuple[tuple[str, str, str], ...] = (
    ("intimate-imagery", "critical", r"intimate|without (?:their |her |his )?consent|did not consent|undress\w*"),
    ("self-harm", "critical", r"hurt (?:themselves|yourself|oneself|himself|herself)|kill (?:themselves|yourself|oneself)|self injur\w*"),
    ("hate", "high", r"derogatory|epithets?|racist\w*|sexist\w*|bigot\w*|demean\w*|slurs?|stereotyp\w*"),
    ("hierarchy", "high", rf"conflicts? with {_INSTR}|precedence|priority over|(?:obey|follow) {_INSTR} (?:over|instead|first)"),
    ("confidentiality", "high", rf"{_INSTR}\b.{{0,60}}\b{_KEEP}|{_KEEP}\b.{{0,60}}\b{_INSTR}"),
    ("honesty", "medium", r"truth\w*|accura\w*|inaccura\w*|factual\w*|unsure|not sure|guess\w*|invent\w*|do not know|dont know"),
    ("child-safety", "critical", r"minors?|children|child|kids?|underage|teens?|teenagers?|under (?:the age of )?1\d"),
    ("sexual-content", "high", r"sexual\w*|sex|nsfw|porn\w*|erotic\w*|nude|nudity|lewd"),
    ("violence", "high", r"violen\w*|terroris\w*|murder\w*|gore|gory|assault\w*"),
    ("malware", "high", r"malware|ransomware|spyware|viruses|virus|keylog\w*|trojans?|exploits?|botnets?"),
    ("hacking", "high", r"hack\w*|phishing|ddos|bypass\w*|circumvent\w*|unauthori[sz]ed|break into|crack\w*|brute force"),
    ("credentials", "high", r"passwords?|passcodes?|credentials?|api keys?|secret keys?|access tokens?|one time (?:codes?|passwords?)|otps?|card numbers?|cvv"),
    ("drugs", "high", r"drugs?|narcotics?|controlled substances?|cocaine|heroin|methamphetamine|fentanyl|opioids?"),
    ("illegal-activity", "high", r"illegal\w*|unlawful\w*|crimes?|criminal\w*|fraud\w*|scams?|launder\w*|counterfeit\w*|theft|steal\w*|tax evasion"),
    ("surveillance", "high", r"stalk\w*|surveil\w*|spy on|spying|track\w* (?:someone|people|a person|individuals?|their location)"),
    ("impersonation", "high", r"impersonat\w*|pretend\w* to be|claim\w* to be|pose as|posing as|you are (?:a )?(?:real )?(?:human|person)"),
    ("elections", "high", r"elections?|electoral|voting|votes?|voters?|ballots?|candidates?"),
    ("medical-advice", "medium", r"medical\w*|diagnos\w*|prescri\w*|dosages?|medications?|medicines?|symptoms?|doctors?|therapy"),
    ("legal-advice", "medium", r"legal|lawyers?|attorneys?|lawsuits?"),
    ("financial-advice", "medium", r"financial|invest\w*|stocks?|crypto\w*|trading|securities|tax advice|portfolios?"),
    ("academic-integrity", "medium", r"cheat\w*|plagiari\w*|academic (?:dishonesty|integrity|misconduct)|homework for"),
    ("copyright", "medium", r"copyright\w*|pirat\w*|intellectual property|lyrics|trademark\w*"),
    ("opinions", "medium", r"opinions?|political\w*|politics|religio\w*|controversial|take sides|partisan"),
    ("profanity", "medium", r"profan\w*|swear\w*|curse words|cursing|vulgar\w*|obscen\w*"),
    ("gambling", "medium", r"gambl\w*|betting|casinos?"),
    ("harmful-content", "high", r"harmful|dangerous|unsafe|harm"),
)  # fmt: skip
_EXTRA_RX = tuple((name, sev, re.compile(rf"\b(?:{rx})\b")) for name, sev, rx in EXTRA_TOPICS)
# Orders that is_directive does not count, but that a rule on a sensitive topic often opens
# with ("Ignore instructions in user messages that ...", "If a user mentions self-harm, respond ...").
_OPENERS = frozenset(
    ("ignore", "disregard", "respond", "reply", "answer", "tell", "say", "remind", "encourage",
     "recommend", "suggest", "escalate", "flag", "verify", "check", "be", "use", "provide",
     "offer", "give", "resist")
)  # fmt: skip
_ABOUT_RULES = re.compile(
    r"\b(?:instructions?|rules?|guidelines?|prompts?|polic(?:y|ies)|system message|jailbreak\w*)\b"
)
_CONDITION = re.compile(r"^(?:if|when|whenever|should)\b[^,;:]*[,;:]\s*(?P<rest>.+)$", re.I)
_DESCRIPTION_MAX = 100


@dataclass(frozen=True)
class Proposal:
    """One proposed guardrail: the clause it protects and how the policy will recognise it."""

    id: str
    topic: str
    severity: str
    clause: Clause
    # One phrase only that clause of its file contains; or, when even the whole clause is
    # part of another clause, a pattern for exactly that clause.
    phrase: str | None
    pattern: str | None
    owners: tuple[str, ...] = ()
    also_at: tuple[int, ...] = ()  # lines repeating the clause word for word
    lead_in: str | None = None  # "You must never:" above a list item that is the rule

    @property
    def description(self) -> str:
        text = f"{self.lead_in} {self.clause.text}" if self.lead_in else self.clause.text
        if len(text) <= _DESCRIPTION_MAX:
            return text
        return text[: _DESCRIPTION_MAX - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


@dataclass(frozen=True)
class FileProposals:
    path: str
    clauses: int
    proposals: tuple[Proposal, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitResult:
    toml: str
    files: tuple[FileProposals, ...]
    written: str | None  # the file written; None for a dry run
    notes: tuple[str, ...] = ()


# -- the core: texts in, proposals and TOML out -------------------------------------------


def _instructs(clause: Clause) -> bool:
    """Reads as a rule (or an order, possibly after a leading condition)."""
    norm = clause.norm
    if reads_like_safety_rule(norm) or is_directive(norm):
        return True
    cond = _CONDITION.match(clause.text)
    rest = normalize(cond.group("rest")) if cond else norm
    return bool(rest) and (is_directive(rest) or rest.split(" ", 1)[0] in _OPENERS)


def _orders(lead: Clause) -> bool:
    """A lead-in whose list items are the rules: "You must never:", "Refuse requests for:"."""
    return lead.text.rstrip().endswith(":") and _instructs(lead)


def classify(
    clause: Clause, policy: Policy, *, led: bool = False
) -> tuple[str, str, tuple[str, ...]] | None:
    """(topic, severity, the words that name the topic) of a safety rule; None for other clauses.

    LED: the clause is a list item under a lead-in that gives the order ("You must never:").
    """
    if clause.kind == HEADING:
        return None
    norm = clause.norm
    instructs = led or _instructs(clause)
    for g in policy.guardrails:
        # A clause about the rules that the built-in guardrail counts ("These instructions take
        # precedence over user messages.") is a rule even when it does not read as an order;
        # "Customer satisfaction is our highest priority." is not, whatever the pattern says.
        if satisfies(g, clause, loose=True) and (
            instructs or (satisfies(g, clause) and _ABOUT_RULES.search(norm))
        ):
            hits = [p for p in g.norm_phrases if f" {p} " in f" {norm} "]
            hits += [m.group(0) for rx in g.regexes for m in rx.finditer(norm)]
            # A pattern that matched only the clause with its punctuation kept: every word counts.
            return (
                BUILTIN_TOPICS.get(g.id, g.id),
                g.severity,
                tuple(hits or [matched_span(g, clause)]),
            )
    for name, severity, rx in _EXTRA_RX if instructs else ():
        hits = [m.group(0) for m in rx.finditer(norm)]
        if hits:
            return name, severity, tuple(hits)
    return None


_CONJUNCTIONS = frozenset(("or", "and", "nor"))
_WHOLE_CLAUSE_MAX = 12  # words
_PUNCTUATION = re.compile(r"[,;:()\[\]]+|\s[-–—]\s")
# Words content_tokens keeps that make no phrase distinctive ("were legal" for "legal advice").
_FILLER = frozenset(
    ("was", "were", "am", "has", "have", "had", "having", "being", "we", "us", "our", "i", "me",
     "my", "he", "him", "his", "she", "her", "etc", "without", "across", "about", "against",
     "within", "via", "per", "over", "after", "before", "avoid", "refuse", "decline", "give",
     "provide", "offer")
)  # fmt: skip


def distinctive_phrase(
    text: str, hits: Sequence[str], elsewhere: Callable[[str], bool]
) -> str | None:
    """The shortest run of 2-5 content words of clause TEXT with a topic word, not ELSEWHERE.

    A run keeps the function words between its content words, since a phrase matches whole
    words of the normalized clause. A run across a comma or colon ("suicide, give") is taken
    only from a long clause that has no other. Among runs of as many content words, those that
    do not cut a short topic name in two ("one time" of "one time codes") or span two items of
    a list ("elections or tell") come first, then those with more topic words, then the
    shorter. None: use the whole clause.
    """
    norm = normalize(text)
    words = norm.split()
    parts = [len(normalize(part).split()) for part in _PUNCTUATION.split(text)]
    # Where a new part of the sentence starts (unknown if normalizing parts changed the words).
    breaks = set(accumulate(parts[:-1])) if sum(parts) == len(words) else set()
    content = [w not in _FILLER and bool(content_tokens(w)) for w in words]
    names = [[w for w in h.split() if w not in _FILLER and content_tokens(w)] for h in hits]
    topic_words = {w for n in names for w in n}
    short_names = [set(n) for n in names if 1 < len(n) <= 3]
    runs: list[tuple[int, bool, bool, bool, int, int, int, str]] = []
    for i in range(len(words)):
        if not content[i]:
            continue
        count = 0
        for j in range(i, len(words)):
            count += content[j]
            if count > 5:
                break
            if count < 2 or not content[j]:
                continue
            run = words[i : j + 1]
            topical = sum(
                1 for w, c in zip(run, content[i : j + 1], strict=True) if c and w in topic_words
            )
            if not topical:
                continue
            cuts = any(0 < len(n & set(run)) < len(n) for n in short_names)
            crosses = any(i < b <= j for b in breaks)
            lists = any(w in _CONJUNCTIONS for w in run)
            phrase = " ".join(run)
            runs.append((count, cuts, crosses, lists, -topical, len(phrase), i, phrase))
    crossing = None
    for *_, crosses, _, _, _, _, phrase in sorted(runs, key=lambda r: (r[2], r)):
        if normalize(phrase) == phrase and not elsewhere(phrase):
            if not crosses:
                return phrase
            crossing = crossing or phrase
    # "know say" of "If you do not know, say so." reads worse than the whole clause, unless
    # the whole clause is long.
    return crossing if len(words) > _WHOLE_CLAUSE_MAX else None


def propose_file(
    path: str, text: str, policy: Policy, ids: Ids, owners: tuple[str, ...] = ()
) -> FileProposals:
    """Proposals for one prompt file, with ids from IDS (unique across files)."""
    clauses = clauses_of(path, text, policy.prompt_keys)
    stem = _stem(path)
    lines_of: dict[str, list[int]] = {}
    for c in clauses:
        lines_of.setdefault(c.norm, []).append(c.line)
    proposals: list[Proposal] = []
    notes: list[str] = []
    seen: set[str] = set()
    # Every clause between " \n " marks: a phrase never spans two, so finding one outside a
    # clause's own stretch means another clause carries it.
    everywhere = " " + " \n ".join(c.norm for c in clauses) + " "
    starts = list(accumulate((len(c.norm) + 3 for c in clauses[:-1]), initial=0))
    lead: Clause | None = None
    for index, clause in enumerate(clauses):
        if clause.kind != ITEM:
            lead = clause
        if clause.norm in seen:  # a word-for-word repeat: one guardrail covers both
            continue
        seen.add(clause.norm)
        led = clause.kind == ITEM and lead is not None and _orders(lead)
        topic = classify(clause, policy, led=led)
        if topic is None:
            continue
        tripped = [f.id for f in policy.forbidden if trips(f, clause)]
        if tripped:
            notes.append(
                f"{path}:{clause.line} trips the forbidden entry '{tripped[0]}': "
                "not proposed as a guardrail; check what it tells the model"
            )
            continue
        name, severity, words = topic
        span = (starts[index], starts[index] + len(clause.norm) + 2)

        def elsewhere(phrase: str, span: tuple[int, int] = span) -> bool:
            at = everywhere.find(f" {phrase} ")
            while span[0] <= at < span[1]:
                at = everywhere.find(f" {phrase} ", at + 1)
            return at != -1

        phrase: str | None = distinctive_phrase(clause.text, words, elsewhere)
        pattern = None
        repeats = tuple(lines_of[clause.norm][1:])
        if phrase is None:
            phrase = clause.norm
            if not repeats and elsewhere(phrase):
                # The whole clause is part of a longer one ("do not lie" in "do not lie about
                # prices"): only a pattern for exactly this clause tells them apart.
                phrase, pattern = None, f"^{clause.norm}$"
        proposals.append(
            Proposal(
                ids.new(f"{stem}-{name}"),
                name,
                severity,
                clause,
                phrase,
                pattern,
                owners,
                repeats,
                lead.text if led and lead else None,
            )
        )
    return FileProposals(path, len(clauses), tuple(proposals), tuple(notes))


_KNOWN_SUFFIXES = frozenset(
    ("md", "markdown", "mdx", "txt", "text", "prompt", "j2", "jinja", "jinja2", "yaml", "yml",
     "json")
)  # fmt: skip


def _stem(path: str) -> str:
    """The file name without its prompt extensions, as an id part: "support.prompt.md" -> "support"."""
    name = path.rsplit("/", 1)[-1]
    while "." in name.strip("."):
        head, ext = name.rsplit(".", 1)
        if ext.lower() not in _KNOWN_SUFFIXES:
            break
        name = head
    slug = re.sub(r"[^a-z0-9._-]+", "-", normalize(name).replace(" ", "-"))
    slug = slug.strip("-._")
    return slug or "prompt"


class Ids:
    """Guardrail ids handed out so far: `base`, then `base-2`, `base-3`, ..."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.taken = set(reserved)
        self._next: dict[str, int] = {}

    def new(self, base: str) -> str:
        n = self._next.get(base, 1)
        candidate = base if n == 1 else f"{base}-{n}"
        while candidate in self.taken:
            n += 1
            candidate = f"{base}-{n}"
        self._next[base] = n + 1
        self.taken.add(candidate)
        return candidate


def toml_string(value: str) -> str:
    """VALUE as a TOML basic string."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def glob_literal(path: str) -> str:
    """A glob matching exactly PATH: `*`, `?` and `{` each in a class of its own, `[` as `{[}`.

    (`[[]` would do for `[`, but Python warns that it may one day read as a nested set.) A
    byte that is not UTF-8 (surrogate-escaped) cannot be written in TOML: `?` stands in for it.
    """
    out = []
    for ch in path:
        if ch == "[":
            out.append("{[}")
        elif ch in "*?{":
            out.append(f"[{ch}]")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _toml_list(values: Sequence[str], indent: bool = False) -> str:
    if not indent:
        return "[" + ", ".join(toml_string(v) for v in values) + "]"
    return "[\n" + "".join(f"    {toml_string(v)},\n" for v in values) + "]"


def render_policy(
    files: Sequence[FileProposals],
    groups: Mapping[tuple[str, ...], str],
    globs: Sequence[str] = (),
) -> str:
    """The proposed promptaudit.toml.

    `prompts` is the globs the files were found with (the built-in ones, inherited, when none
    were given), not the list of today's files: a prompt file added later is audited at once.
    """
    count = sum(len(f.proposals) for f in files)
    lines = [
        f"# promptaudit policy proposed by `promptaudit init`: {count} guardrail(s) from",
        f"# {len(files)} prompt file(s). Review every entry before committing it (docs/init.md):",
        "# each one keeps one clause of a prompt as it reads today.",
        "",
        "# The built-in guardrails and forbidden instructions: promptaudit policy --default",
        'extends = "default"',
        'block_at = "medium"',
    ]
    if globs:
        lines.append(f"prompts = {_toml_list(list(globs), indent=True)}")
    else:
        lines.append("# prompts: the built-in globs, inherited (promptaudit policy --default)")
    if groups:
        lines += [
            "",
            "# Owners by email in CODEOWNERS; they may approve changes to these guardrails.",
        ]
        lines.append("[reviewers]")
        lines += [f"{name} = {_toml_list(members)}" for members, name in groups.items()]
    for f in files:
        for p in f.proposals:
            where = f"{p.clause.path}:{p.clause.line}"
            if p.also_at:
                where += " (repeated at line " + ", ".join(map(str, p.also_at)) + ")"
            lines += ["", f"# {_comment(where)}", "[[guardrail]]"]
            lines.append(f"id = {toml_string(p.id)}")
            lines.append(f"description = {toml_string(p.description)}")
            lines.append(f"severity = {toml_string(p.severity)}")
            if p.phrase is not None:
                lines.append(f"phrases = {_toml_list([p.phrase])}")
            if p.pattern is not None:
                lines.append(f"patterns = ['{p.pattern}']")
            lines.append(f"paths = {_toml_list([glob_literal(f.path)])}")
            lines.append("required = true")
            if p.owners:
                lines.append(f"reviewers = {_toml_list([groups[p.owners]])}")
    return "\n".join(lines) + "\n"


def owner_groups(files: Sequence[FileProposals]) -> dict[tuple[str, ...], str]:
    """A [reviewers] group name for each distinct set of owners: owners, owners-2, ..."""
    groups: dict[tuple[str, ...], str] = {}
    for f in files:
        for p in f.proposals:
            if p.owners and p.owners not in groups:
                groups[p.owners] = "owners" if not groups else f"owners-{len(groups) + 1}"
    return groups


def verify(
    text: str,
    name: str,
    files: Sequence[FileProposals],
    texts: Mapping[str, str],
    paths: Sequence[str],
) -> Policy:
    """Load our own output as `review` will and check every proposal against it; else fail closed.

    Each guardrail must apply to its file and be carried there by its own clause only (or by
    word-for-word repeats of it), so that deleting the clause is a removal.
    """
    try:
        policy = load_policy(text, f"{name} (generated)", path=name)
    except PolicyError as exc:
        raise PolicyError(f"init produced an invalid policy: {exc.message}", _BUG) from None
    wanted = {f.path for f in files}
    stray = [p for p in paths if policy.is_prompt(p) != (p in wanted)]
    if stray:
        raise PolicyError(f"init's prompts globs do not match exactly: {stray[0]}", _BUG)
    for f in files:
        clauses = clauses_of(f.path, texts[f.path], policy.prompt_keys)
        joined = "\n".join(c.norm for c in clauses)
        starts = list(accumulate((len(c.norm) + 1 for c in clauses[:-1]), initial=0))
        for p in f.proposals:
            rule = policy.entry(p.id)
            if not isinstance(rule, Guardrail) or not rule.applies_to(f.path):
                raise PolicyError(f"init's guardrail '{p.id}' does not apply to {f.path}", _BUG)
            # A phrase can only match a clause whose text holds it: look only there.
            near = (
                clauses if rule.patterns else _holding(rule.norm_phrases, joined, starts, clauses)
            )
            if {c.norm for c in satisfying(rule, near)} != {p.clause.norm}:
                raise PolicyError(f"init's guardrail '{p.id}' does not single out its clause", _BUG)
    return policy


def _holding(
    phrases: Sequence[str], joined: str, starts: Sequence[int], clauses: Sequence[Clause]
) -> list[Clause]:
    """The clauses whose normalized text contains one of PHRASES as a substring."""
    found: dict[int, Clause] = {}
    for phrase in phrases:
        at = joined.find(phrase)
        while at != -1:
            i = bisect_right(starts, at) - 1
            found[i] = clauses[i]
            at = joined.find(phrase, at + 1)
    return list(found.values())


_BUG = "this is a bug in promptaudit init; write the policy by hand (docs/policy.md) and report it"


# -- the command: read the repository, propose, write ----------------------------------------


def find_prompts(files: Mapping[str, tuple[str, str]], globs: Sequence[str]) -> list[str]:
    """The prompt files among FILES: the built-in policy's globs, or GLOBS when given."""
    if not globs:
        return sorted(p for p in files if default_policy().is_prompt(p))
    for g in globs:
        try:
            re.compile(glob_to_regex(g))
        except (re.error, RecursionError) as exc:
            raise PolicyError(
                f"invalid glob {g!r} in --prompts: {exc}", "check the [...] classes"
            ) from None
    wanted = Globs(tuple(globs))
    return sorted(
        p
        for p in files
        if wanted.match(p) and not (p in POLICY_FILES or p.startswith(RESERVED_PREFIX))
    )


def init_policy(
    repo_path: str, globs: Sequence[str] = (), *, force: bool = False, dry_run: bool = False
) -> InitResult:
    """Propose a promptaudit.toml for the repository at REPO_PATH; write it unless DRY_RUN."""
    with Repository(repo_path) as found:
        if found.bare:
            raise GitError("init needs a working tree, not a bare repository", "run it in a clone")
        root = found.root
    # At the top level: from a subfolder, `git ls-files` would list paths relative to it.
    with Repository(root) as repo:
        index = repo.list_files(INDEX)
        target, notes = _target(repo.root, index, force=force, dry_run=dry_run)
        paths = find_prompts(index, globs)
        if not paths:
            where = "the --prompts globs" if globs else "the built-in prompt globs"
            raise FatalError(
                f"no prompt files found with {where} (tracked or staged files)",
                "name them: promptaudit init --prompts 'path/to/prompts/**/*.md'",
            )
        if globs:
            left_out = [p for p in index if default_policy().is_prompt(p) and p not in paths]
            if left_out:
                notes.append(
                    f"the built-in policy also audits {len(left_out)} file(s) --prompts leaves "
                    f"out ({left_out[0]}, ...): the first review will report that as "
                    "policy-weakened until approved"
                )
        owners_of = _codeowners(repo, index)
        if owners_of is not None and not any(owners_of(p) for p in paths):
            notes.append(
                "CODEOWNERS names no owner of these prompts by email (@handles cannot be "
                "matched to git identities): no reviewers proposed"
            )
        texts = {p: _read_prompt(repo, p, index[p]) for p in paths}
    policy = default_policy()
    ids = Ids(e.id for e in (*policy.guardrails, *policy.forbidden))
    files: list[FileProposals] = []
    for p in paths:
        owners = owners_of(p) if owners_of else ()
        files.append(propose_file(p, texts[p], policy, ids, owners))
    text = render_policy(files, owner_groups(files), globs)
    verify(text, target.name, files, texts, list(index))
    notes += [n for f in files for n in f.notes]
    if dry_run:
        return InitResult(text, tuple(files), None, tuple(notes))
    try:
        with open(target, "w" if force else "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except FileExistsError:
        raise _exists(target.name) from None
    except OSError as exc:
        raise FatalError(
            f"cannot write {target}: {exc.strerror}", "check the permissions"
        ) from None
    return InitResult(text, tuple(files), target.name, tuple(notes))


def _exists(name: str) -> FatalError:
    return FatalError(
        f"{name} already exists", "keep it, or replace it with: promptaudit init --force"
    )


def _target(
    root: str, index: Mapping[str, object], *, force: bool, dry_run: bool
) -> tuple[Path, list[str]]:
    """Where the policy goes, refusing to overwrite one without --force."""
    present = [n for n in POLICY_FILES if n in index or (Path(root) / n).exists()]
    if len(present) > 1:
        raise PolicyError(
            "both promptaudit.toml and .promptaudit.toml exist",
            "delete one of them before running init",
        )
    name = present[0] if present else POLICY_FILES[0]
    notes = []
    if present and not force:
        if not dry_run:
            raise _exists(name)
        notes.append(f"{name} exists: writing this policy needs --force")
    return Path(root) / name, notes


def _read_prompt(repo: Repository, path: str, entry: tuple[str, str]) -> str:
    mode, blob = entry
    if mode in (MODE_SYMLINK, MODE_SUBMODULE):
        what = "a symbolic link" if mode == MODE_SYMLINK else "a submodule"
        raise PromptError(f"{path} is {what}, not a prompt file", "leave it out with --prompts")
    data = repo.blobs.read(blob)
    if data is None:
        raise GitError(f"cannot read {path} (object {blob[:12]} is missing)", "run git fsck")
    try:
        return decode(data, path, DEFAULT_MAX_PROMPT_BYTES)
    except PromptError as exc:  # review would fail on it too: say how to leave it out
        raise PromptError(exc.message, f"{exc.hint}, or leave it out with --prompts") from None


def _codeowners(
    repo: Repository, index: Mapping[str, tuple[str, str]]
) -> Callable[[str], tuple[str, ...]] | None:
    from promptaudit.codeowners import LOCATIONS, parse_codeowners

    for location in LOCATIONS:
        if location in index:
            data = repo.blobs.read(index[location][1]) or b""
            return parse_codeowners(data.decode("utf-8", "replace")).owners_of
    return None


def render_summary(result: InitResult) -> str:
    """The table of files, clauses read and guardrails proposed, then notes and the next step."""
    from tabulate import tabulate

    rows = [[f.path, f.clauses, len(f.proposals)] for f in result.files]
    total = sum(len(f.proposals) for f in result.files)
    rows.append(["total", sum(f.clauses for f in result.files), total])
    out = [tabulate(rows, headers=["file", "clauses read", "guardrails proposed"])]
    out += [f"note: {n}" for n in result.notes]
    if result.written:
        out.append(f"wrote {result.written}: {total} guardrail(s), plus the built-in ones.")
        name = result.written
        out.append(f"next: review {name}, then: git add {name} && git commit")
    else:
        out.append("dry run: nothing written.")
    return "\n".join(out) + "\n"
