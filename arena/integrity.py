"""Vote integrity: does an arena answer tell the voter which model wrote it?

Plain functions over text (no Django): ``answer_reveals`` takes one answer, the identity of the model
that wrote it (its registry name, model id and organization), the prompts that model was given and the
rest of the registry, and returns the evidence, one ``Evidence`` per reveal (empty: nothing found).
arena/services.vote_record runs it over every answer of a battle when the vote is stored.

What counts, for the answer's *own* model only (naming another model is not self-identification):

- a self-identification phrase with any of its names or its organization: "I am X", "I'm X", "my name
  is X", "call me X", "I'm an X model", "As X, …", "I (was|am a model) developed / created / trained /
  made / built by ORG", "ORG created me", "my developers at ORG", "I am based on X";
- a bare mention of a *distinctive* name or organization (see ``distinctive``), unless a prompt of the
  conversation already contains it: a model repeating a name the visitor typed reveals nothing.

The names of a model (``identity_terms``): its registry name, the last segment of its model id, each
without its parenthesised parts ("Alpaca (7B)" → "alpaca 7b" and "alpaca"), and its *family*, the name
cut at the first version or size token with generic variant words dropped from its end ("claude-3-opus"
→ "claude", "Falcon Instruct (7B)" → "falcon", "command-light" → "command"). Matching ignores case and
spacing ("gpt-4", "GPT 4", "gpt4" and "GPT_4" are one name; "CodeLlama" also matches "Code Llama").

A name is *distinctive*, and counts bare, when one of its words is not an everyday English word or a
generic part of model names (COMMON_WORDS), or when it pairs a word with a version or size ("falcon
7b"). So a bare "Claude", "Vicuna" or "OpenAI" counts for its own model, but "command" (Cohere's
model), "palm", "falcon", "Google" and "Meta" count only inside a phrase: "Run this command" and
"Search Google" are ordinary answers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

NAME, FAMILY, ORGANIZATION = "name", "family", "organization"

# Everyday English words and generic parts of model names: such a word on its own says nothing about
# which model wrote an answer, so it counts only inside a self-identification phrase. Curated, not a
# dictionary: extend it when a false positive shows up in the flagged list.
COMMON_WORDS = frozenset(
    """
    a an the of and or for with by to in on at my your our it its model models llm lm ai bot assistant agent
    chat chatbot instruct instruction instructions base basic turbo light lite mid mini nano micro tiny small
    medium large huge big xl xxl max plus pro ultra flash fast quick preview latest nightly experimental exp
    beta alpha stable control extended supreme code coder coding math vision omni sft dpo rlhf hf it gguf awq
    gptq fp16 int4 int8 one next new open free core edge prime local remote online gpt transformer
    command palm falcon alpaca koala dolly orca dolphin phi bard gemini hermes zephyr wizard solar pi grok
    sonnet haiku opus luminous jurassic weaver together meta google apple amazon microsoft cohere mosaic
    stanford berkeley nvidia ibm intel platypus guanaco mythomax remm slerp chronos starling capybara
    """.split()
)
# Trailing words dropped to get a family ("falcon instruct" → "falcon", "command light" → "command").
VARIANT_WORDS = frozenset(
    """
    chat instruct instruction base turbo light lite mid mini nano micro tiny small medium large xl xxl max
    plus pro ultra flash fast preview latest nightly experimental exp beta alpha stable control extended
    supreme code coder vision omni sft dpo rlhf hf it gguf awq gptq fp16 int4 int8 v
    """.split()
)
# A version or size: "2", "v1.3", "3.5", "13b", "16k", "8x7b", "20240229".
_VERSION = re.compile(r"^v?\d[\w.]*$|^\d+x\d+\w*$")
_SEPARATOR = r"[\s_/.\-]?"  # between the parts of a name: "gpt-4", "GPT 4", "gpt4", "gpt_4"
_WORD_SPLIT = re.compile(r"[^\w.]+|_")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")

# How far around a mention the phrases are looked for, in characters.
_BEFORE, _AFTER = 120, 60
MAX_EVIDENCE = 10  # per answer; the first few say enough and keep the stored evidence small


@dataclass(frozen=True)
class Identity:
    """A registered model as the detection sees it: its public name, model id (the last path segment
    counts: "anthropic/claude-2" → "claude-2") and organization."""

    name: str
    model_id: str = ""
    organization: str = ""


@dataclass(frozen=True)
class Term:
    """One name of a model: its words (each a tuple of camel-case parts), what it names and whether it
    counts as a bare mention."""

    words: tuple[tuple[str, ...], ...]
    kind: str  # name, family or organization
    bare: bool

    @property
    def text(self) -> str:
        return " ".join("".join(parts) for parts in self.words)

    @property
    def key(self) -> str:
        return _key(self.text)


@dataclass(frozen=True)
class Evidence:
    """One reveal: which rule, which of the model's names, and the words around it."""

    rule: str  # self-introduction, as-x, made-by, based-on, name, organization
    term: str
    kind: str
    excerpt: str
    start: int  # offset of the name in the text
    prompted: bool = False  # the visitor's prompt named it too

    def as_dict(self) -> dict:
        return asdict(self)


# --- the names of a model ---------------------------------------------------------------------------


def _words(text: str) -> list[tuple[str, ...]]:
    """Words (split at spaces, hyphens, slashes, underscores), each as its lower-cased camel-case parts."""
    words = []
    for raw in _WORD_SPLIT.split(text):
        raw = raw.strip(".")
        if not raw:
            continue
        parts = tuple(p.casefold() for p in _CAMEL.split(raw) if p)
        words.append(parts)
    return words


def _flat(word: tuple[str, ...]) -> str:
    return "".join(word)


def _key(text: str) -> str:
    """A name with case, spacing and a version's "v" ignored: how two spellings are found to be one."""
    return re.sub(r"v(?=\d)", "", re.sub(r"[\s_/.\-]", "", text.casefold()))


def _letters(words: Sequence[tuple[str, ...]]) -> int:
    return sum(ch.isalpha() for word in words for ch in _flat(word))


def distinctive(words: Sequence[tuple[str, ...]]) -> bool:
    """Whether a name, said anywhere in an answer, points at its model (see the module's docstring)."""
    flat = [_flat(w) for w in words]
    if len("".join(flat)) < 3 or _letters(words) < 2:
        return False
    proper = [w for w in flat if not _VERSION.match(w) and w not in COMMON_WORDS]
    if any(len(w) >= 2 for w in proper):
        return True
    versioned = any(_VERSION.match(w) for w in flat)
    worded = any(len(w) >= 3 and w.isalpha() for w in flat)
    return versioned and worded


def _families(words: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """The name up to its first version ("gpt 3.5", "palm 2", "claude 3"), and without it ("claude")."""
    flat = [_flat(w) for w in words]
    cut = next((i for i, w in enumerate(flat) if i > 0 and _VERSION.match(w)), len(flat))
    family = words[:cut]
    while len(family) > 1 and _flat(family[-1]) in VARIANT_WORDS:
        family = family[:-1]
    return [words[: cut + 1], family] if cut < len(flat) else [family]


def identity_terms(identity: Identity) -> list[Term]:
    """Every name of the model, longest first, with its organization's."""
    found: dict[str, Term] = {}

    def add(words: list[tuple[str, ...]], kind: str) -> None:
        words = [w for w in words if _flat(w)]
        if not words or _letters(words) < 2 or all(_flat(w) in VARIANT_WORDS for w in words):
            return
        term = Term(tuple(words), kind, distinctive(words))
        found.setdefault(term.key, term)  # the first spelling and kind win: a name before its family

    org_words = _words(identity.organization)
    org_flat = {_flat(w) for w in org_words}
    names = [identity.name]
    if identity.model_id:
        names.append(identity.model_id.rstrip("/").rsplit("/", 1)[-1])
    families = []
    for name in names:
        for text in (name, _PARENTHESES.sub(" ", name)):
            words = _words(text)
            add(words, NAME)
            families += _families(words)
    for family in families:
        add(family, FAMILY)
        if len(family) > 1 and _flat(family[0]) in org_flat:  # "Meta-Llama-3" → "llama"
            add(family[1:], FAMILY)
    if org_words:
        add(org_words, ORGANIZATION)
    return sorted(found.values(), key=lambda t: -len(t.text))


def _part_pattern(part: str) -> str:
    if re.fullmatch(r"v\d[\w.]*", part):
        return r"(?:v|version\s)?" + re.escape(part[1:])
    return re.escape(part)


@functools.lru_cache(maxsize=1024)
def _terms(identity: Identity) -> tuple[Term, ...]:
    return tuple(identity_terms(identity))


def _name_keys(identity: Identity) -> set[str]:
    return {t.key for t in _terms(identity) if t.kind != ORGANIZATION}


def term_pattern(term: Term, *, plural: bool = False) -> str:
    """The regular expression of one name: case aside, its parts with or without a separator between."""
    parts = [_part_pattern(p) for word in term.words for p in word]
    return r"(?<!\w)" + _SEPARATOR.join(parts) + (r"(?:e?s)?" if plural else "") + r"(?!\w)"


@functools.lru_cache(maxsize=1024)
def _compiled(term: Term, plural: bool = False) -> re.Pattern:
    return re.compile(term_pattern(term, plural=plural), re.IGNORECASE)


# --- the phrases ------------------------------------------------------------------------------------

# "I" is matched case-sensitively (a lone "i" is "i.e." or a list item); the rest ignores case.
_APOSTROPHE = "['’]"
_I_AM = rf"(?:\bI\s+am|\bI{_APOSTROPHE}m)"
_SUBJECT = rf"(?:\bI\s+(?:(?i:am|was|have\s+been))\b|\bI{_APOSTROPHE}(?i:m|ve\s+been)\b|\bI\b|(?i:\bme)\b)"
# Between "I" and "developed by": no other subject or verb of being ("I think React was made by Meta").
_GAP = r"(?:(?!\b(?i:is|was|are|were|it|its|they|he|she|which|that|who|you|we|this|these)\b)[^.!?\n]){0,80}?"
_NOUN = r"(?i:model|assistant|ai|chatbot|chat\s*bot|llm|language\s+model|system|product|creation)"

_BEFORE_RULES = [
    # "I am Claude", "my name is Claude", "I'm called Claude"; no article, so "I'm a falcon fan" is not one.
    (
        "self-introduction",
        rf"(?:{_I_AM}(?:\s+(?i:called|named|known\s+as))?|(?i:\bmy\s+name\s+is|\bcall\s+me|\bI\s+go\s+by))\s+$",
    ),
    # "I am an AI assistant called Claude"
    (
        "self-introduction",
        rf"{_I_AM}\s+(?i:a|an|the)\s+(?:[\w-]+\s+){{0,4}}?(?i:called|named|known\s+as)\s+$",
    ),
    # "As Claude, …", "As an OpenAI language model, …" (the comma is checked after the name), not "such as".
    ("as-x", r"(?<!(?i:such) )(?<!(?i:well) )(?i:\bas)\s+(?:(?i:a|an)\s+)?$"),
    # "I am a large language model trained by OpenAI", "I was created by the team at Anthropic".
    (
        "made-by",
        rf"{_SUBJECT}{_GAP}\b(?i:developed|created|trained|made|built|designed|programmed|owned|released"
        rf"|fine[- ]?tuned|maintained)\s+(?i:by)\s+(?:(?i:the)\s+)?"
        rf"(?:(?i:team|researchers|engineers|people|folks|company)\s+(?i:at|from|of)\s+)?$",
    ),
    # "As an AI language model developed by OpenAI, …" (not "as a framework developed by Google").
    (
        "made-by",
        rf"(?i:\bas\s+an?)\s+(?:[\w-]+\s+){{0,3}}?{_NOUN}\s+(?:(?i:that|which)\s+(?i:was|is)\s+)?"
        r"(?i:developed|created|trained|made|built|designed|programmed|owned|released|fine[- ]?tuned)\s+(?i:by)\s+"
        r"(?:(?i:the)\s+)?$",
    ),
    # "my developers at Anthropic"
    (
        "made-by",
        r"(?i:\bmy\s+(?:creators?|developers?|makers?|trainers?|team))\s*(?:(?i:at|from|are|were|is|was),?\s+)?"
        r"(?:(?i:the)\s+)?$",
    ),
    # "I am based on LLaMA 2", "I'm a fine-tuned version of Vicuna".
    (
        "based-on",
        rf"{_SUBJECT}{_GAP}\b(?i:based\s+on|built\s+(?:on|upon)|fine[- ]?tuned\s+(?:from|on)|derived\s+from"
        r"|(?:a\s+)?(?:fine[- ]?tuned\s+)?(?:version|variant)\s+of)\s+(?:(?i:the)\s+)?$",
    ),
]
_BEFORE_COMPILED = [(rule, re.compile(pattern)) for rule, pattern in _BEFORE_RULES]
_ARTICLE_BEFORE = re.compile(rf"{_I_AM}\s+(?i:a|an|the)\s+(?:(?i:version|variant)\s+of\s+)?$")
# After the name: "… model" (for "I'm an OpenAI model"), the comma of "As X," and "X created me".
_NOUN_AFTER = re.compile(rf"^(?:{_APOSTROPHE}s)?\s+(?:[\w-]+\s+){{0,2}}?{_NOUN}\b")
_COMMA_AFTER = re.compile(rf"^(?:\s+(?:[\w-]+\s+){{0,2}}?{_NOUN})?\s*,")
_CREATED_ME_AFTER = re.compile(
    r"^\s+(?:[\w-]+\s+)?(?i:created|developed|trained|built|made|designed|programmed)\s+(?i:me)\b"
)
_RULES_FOR_KIND = {
    "self-introduction": {NAME, FAMILY, ORGANIZATION},
    "as-x": {NAME, FAMILY, ORGANIZATION},
    "made-by": {ORGANIZATION},
    "based-on": {NAME, FAMILY},
}


def _phrase(text: str, start: int, end: int, term: Term) -> str | None:
    """The self-identification rule the words around a mention make, or None."""
    before = text[max(0, start - _BEFORE) : start]
    after = text[end : end + _AFTER]
    for rule, pattern in _BEFORE_COMPILED:
        if term.kind not in _RULES_FOR_KIND[rule] or not pattern.search(before):
            continue
        if rule == "as-x" and not _COMMA_AFTER.match(after):
            continue
        return rule
    if _ARTICLE_BEFORE.search(before) and _NOUN_AFTER.match(after):
        return "self-introduction"  # "I'm an OpenAI model", "I am a Claude assistant"
    if term.kind == ORGANIZATION and _CREATED_ME_AFTER.match(after):
        return "made-by"  # "Anthropic created me"
    return None


def _excerpt(text: str, start: int, end: int, around: int = 50) -> str:
    left = max(0, start - around)
    right = min(len(text), end + around)
    words = " ".join(text[left:right].split())
    return ("…" if left else "") + words + ("…" if right < len(text) else "")


# --- the registry: another model's name is not this one's -------------------------------------------


@functools.lru_cache(maxsize=16)
def _registry_index(identities: tuple[Identity, ...]) -> tuple[re.Pattern | None, dict[str, frozenset[str]]]:
    """One pattern for every model's names (not families or organizations), and which models each names."""
    owners: dict[str, set[str]] = {}
    patterns: dict[str, str] = {}
    for identity in identities:
        for term in _terms(identity):
            if term.kind == ORGANIZATION:
                continue
            owners.setdefault(term.key, set()).add(identity.name)
            patterns.setdefault(term.key, term_pattern(term))
    if not patterns:
        return None, {}
    ordered = sorted(patterns.values(), key=len, reverse=True)
    return re.compile("|".join(f"(?:{p})" for p in ordered), re.IGNORECASE), {
        k: frozenset(v) for k, v in owners.items()
    }


def _names_another_model(text: str, start: int, end: int, own: Identity, registry: tuple[Identity, ...]) -> bool:
    """Whether the mention at start:end is part of a longer name of another model, not of this one's family
    ("llama" inside "Code Llama" for LLaMA-2-Chat; but "LLaMA-2-Chat (70B)" is family to its 13B sibling)."""
    pattern, owners = _registry_index(registry)
    if pattern is None:
        return False
    own_keys = _name_keys(own)
    left = max(0, start - _AFTER)
    for match in pattern.finditer(text, left):
        s, e = match.span()
        if s > start:
            break
        if not (s <= start and end <= e and e - s > end - start):
            continue
        key = _key(match.group(0))
        named = owners.get(key, frozenset())
        if key in own_keys or own.name in named:
            continue
        if any(own_keys & _name_keys(o) for o in registry if o.name in named):
            continue
        return True
    return False


# --- the check --------------------------------------------------------------------------------------


def answer_reveals(
    text: str, model: Identity, *, prompts: Iterable[str] = (), registry: Sequence[Identity] = ()
) -> list[Evidence]:
    """The ways ``text``, written by ``model``, reveals that model: empty when it does not.

    ``prompts`` are the visitor's messages the model answered: a name they contain (or its plural) does
    not count as a bare mention, nor does the organization of a model they name ("Compare GPT-4 and
    Claude" → "Claude is made by Anthropic"). A self-identification phrase counts even then ("Are you
    Claude?" → "Yes, I am Claude" tells the voter which side is Claude); its evidence says ``prompted``.
    ``registry`` is every registered model: a mention inside another model's longer name is not one of
    this model's ("Code Llama" names no LLaMA-2-Chat).
    """
    if not text:
        return []
    terms = _terms(model)
    registry = tuple(registry)
    prompt_text = "\n".join(prompts)
    prompted = {t.key for t in terms if prompt_text and _compiled(t, True).search(prompt_text)}
    model_prompted = any(t.kind != ORGANIZATION and t.key in prompted for t in terms)
    found: list[Evidence] = []
    taken: list[tuple[int, int]] = []  # one piece of evidence per stretch of text: the longest name
    for term in terms:
        in_prompt = term.key in prompted or (term.kind == ORGANIZATION and model_prompted)
        for match in _compiled(term).finditer(text):
            start, end = match.span()
            if any(s <= start and end <= e for s, e in taken):
                continue
            if registry and _names_another_model(text, start, end, model, registry):
                continue
            rule = _phrase(text, start, end, term)
            if rule is None and term.bare and not in_prompt:
                rule = ORGANIZATION if term.kind == ORGANIZATION else NAME
            if rule is None:
                continue
            taken.append((start, end))
            found.append(Evidence(rule, term.text, term.kind, _excerpt(text, start, end), start, in_prompt))
    found.sort(key=lambda e: e.start)
    return found[:MAX_EVIDENCE]
