"""Which clauses of a prompt become guardrails, and how the policy will recognise each.

A clause is proposed when it reads like a rule (it prohibits, mandates, refuses, or orders
after a condition) and is on a known topic; it is then bound to its file by one phrase that
only that clause of the file contains, or an anchored pattern when even the whole clause is
part of another one. `promptaudit init` writes the proposals as TOML (init.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from promptaudit.clauses import HEADING, ITEM, Clause, clauses_of
from promptaudit.matching import (
    is_directive,
    matched_span,
    reads_like_safety_rule,
    satisfies,
    trips,
)
from promptaudit.policy import Policy
from promptaudit.similarity import content_tokens
from promptaudit.text import contains_phrase, normalize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

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
# Who is watched, tracked or found ("track another person's location", "monitor a partner's
# phone", "find where someone lives").
_SOMEONE = r"(?:someone|anyone|people|a person|another person|persons?|individuals?|a (?:specific |particular )?(?:person|individual)|a partner|partners?|spouses?|an ex)"
_WATCH = (
    r"stalk\w*|surveil\w*|spy on|spying|covert\w*|whereabouts|stalkerware|"
    rf"(?:track\w*|monitor\w*|locat\w*|follow\w*|find\w*) {_SOMEONE}\b|"
    r"(?:track\w*|monitor\w*) (?:\w+ ){0,3}(?:location\w*|movements?|phones?|devices?|messages)|"
    r"tracking (?:apps?|software|devices?|tools?)|find\w* where (?:\w+ ){1,3}(?:lives?|living)"
)
# Data about a person, and consent: "without consent" alone names no topic but privacy (it
# reads as intimate imagery only next to images, which the row above that catches).
_PRIVATE = (
    r"without (?:\w+ ){0,2}(?:consent|knowledge)|email address\w*|location data|"
    r"(?:medical|health) (?:records?|data|information|conditions?|history)|"
    r"(?:guess\w*|infer\w*|speculat\w*) (?:\w+ ){0,4}(?:age|religion|ethnicity|race|sexual orientation|"
    r"gender|health)|(?:identify|recogni[sz]e) (?:people|persons?|individuals?|someone|"
    r"anyone|strangers|faces?)|(?:one|other|another) (?:users?|customers?|persons?|patients?) "
    r"(?:messages|conversations|chats|data|information|details|records?|accounts?)"
)
EXTRA_TOPICS: tuple[tuple[str, str, str], ...] = (
    ("intimate-imagery", "critical", r"intimate (?:images?|imagery|photos?|pictures?|videos?|content|media|material)|revenge porn|undress\w*|nudify\w*"),
    ("self-harm", "critical", r"hurt (?:themselves|yourself|oneself|himself|herself)|kill (?:themselves|yourself|oneself)|self injur\w*|lethal (?:doses?|dosages?)|overdos\w*"),
    ("hate", "high", r"derogatory|epithets?|racist\w*|sexist\w*|bigot\w*|demean(?:s|ed|ing)?|slurs?|stereotyp\w*"),
    ("hierarchy", "high", rf"conflicts? with {_INSTR}|precedence|priority over|(?:obey|follow) {_INSTR} (?:over|instead|first)|(?:users?|someone|anyone|they|he|she) (?:claims?|says?|said) (?:to be|they are|he is|she is) (?:a |an |the |your )?(?:developer|admin\w*|owner|operator|creator|moderator|staff|employee)"),
    ("confidentiality", "high", rf"{_INSTR}\b.{{0,60}}\b{_KEEP}|{_KEEP}\b.{{0,60}}\b{_INSTR}"),
    ("surveillance", "high", _WATCH),
    ("privacy", "high", _PRIVATE),
    ("honesty", "medium", r"truth\w*|accura\w*|inaccura\w*|factual\w*|unsure|not sure|guess\w*|invent(?:s|ed|ing)?|(?:you|i|we) do not know"),
    ("child-safety", "critical", r"minors?|children|child|kids?|underage|teens?|teenagers?|under (?:the age of )?1\d"),
    ("sexual-content", "high", r"sexual\w*|sex|nsfw|porn\w*|erotic\w*|nude|nudity|lewd"),
    ("violence", "high", r"violen\w*|terroris\w*|murder\w*|gore|gory|assault\w*"),
    ("malware", "high", r"malware|ransomware|spyware|viruses|virus|keylog\w*|trojans?|exploit (?:code|kits?)|exploits|botnets?"),
    ("hacking", "high", r"hack(?:s|ed|er|ers|ing)?|phishing|ddos|bypass\w*|circumvent\w*|unauthori[sz]ed|break into|crack(?:s|ed|ing)? (?:\w+ )?(?:passwords?|accounts?|software|encryption|hashes|licen[cs]es?)|password cracking|brute force"),
    ("credentials", "high", r"passwords?|passcodes?|credentials?|api keys?|secret keys?|access tokens?|one time (?:codes?|passwords?)|otps?|card numbers?|cvv"),
    ("firearms", "high", r"firearms?|guns?|handguns?|rifles?|ammunition|ammo"),
    ("drugs", "high", r"drugs?|narcotics?|controlled substances?|cocaine|heroin|methamphetamine|fentanyl|opioids?"),
    ("illegal-activity", "high", r"illegal\w*|unlawful\w*|crimes?|criminal\w*|fraud\w*|scams?|launder\w*|counterfeit\w*|theft|steal\w*|tax evasion"),
    ("impersonation", "high", r"impersonat\w*|pretend\w* to be|claim\w* to be|pose as|posing as|you are (?:a )?(?:real )?(?:human|person)"),
    ("elections", "high", r"elections?|electoral|voting|votes?|voters?|ballots?|(?:political|election|electoral) candidates?|candidates? for (?:public )?office"),
    ("medical-advice", "medium", r"medical\w*|diagnos\w*|prescri\w*|dosages?|medications?|medicines?|symptoms?|doctors?|therapy"),
    ("legal-advice", "medium", r"legal|lawyers?|attorneys?|lawsuits?"),
    ("financial-advice", "medium", r"financial|invest(?:s|ed|ing|ment|ments|or|ors)?|stocks|stock (?:market|picks?|tips?|prices?)|crypto\w*|trading|securities|tax advice|portfolios?"),
    ("academic-integrity", "medium", r"cheat(?:s|ed|ing)?|plagiari\w*|academic (?:dishonesty|integrity|misconduct)|homework for"),
    ("copyright", "medium", r"copyright\w*|piracy|pirated|pirating|intellectual property|lyrics|trademark\w*"),
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
    # "You must never:" above a list item that completes it ("- lie"); None for an item that
    # is a rule by itself, which the lead-in above it may not even be about.
    lead_in: str | None = None

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


# -- the core: texts in, proposals and TOML out -------------------------------------------


def _instructs(clause: Clause, *, alone: bool = False) -> bool:
    """Reads as a rule (or an order, possibly after a leading condition).

    ALONE: on the clause's own words, without the lead-in of a list item, to tell an item that
    is a rule by itself ("If a user mentions self-harm, respond with care") from one that
    completes its lead-in ("You must never:" / "- lie").
    """
    norm = normalize(clause.text) if alone else clause.norm
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

        # The phrase comes from the clause's own words, never from a lead-in above it: the
        # lead-in gives a list item its force when matching, but it may be another list's.
        phrase: str | None = distinctive_phrase(clause.text, words, elsewhere)
        pattern = None
        repeats = tuple(lines_of[clause.norm][1:])
        if phrase is None:
            phrase = normalize(clause.text)
            if repeats and any(
                c.norm != clause.norm and contains_phrase(c.norm, phrase) for c in clauses
            ):
                phrase = clause.norm  # the item's words recur under another lead-in
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
                lead.text if led and lead and not _instructs(clause, alone=True) else None,
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
