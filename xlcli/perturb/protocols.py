"""Perturbation protocols: which words of a query change, and how.

``ielab``
    The protocol of the typo-robust dense retrieval literature (Zhuang & Zuccon, EMNLP 2021 and
    SIGIR 2022): each variant changes exactly one word — a non-stopword of at least 3 letters —
    by one of random insertion, random deletion, random substitution, swapping two neighbouring
    characters, or substituting a keyboard neighbour (layout of the query's language), the
    operation drawn uniformly. 10 variants per query by default.
``rate``
    Each eligible word is perturbed with probability ``rate`` (default 0.1), conditioned on at
    least one word changing, and at most ``max_edits`` words (default 2) change; each changed
    word gets one edit drawn uniformly from the kinds that apply to it: the five character
    operations (non-stopwords of 3+ letters) and the language's orthographic errors —
    ``diacritic`` (drop or confuse a diacritic) and ``confusion`` (b/v, ie/ei, é/er/ez, о/а ...),
    which apply to any word of the language's script, stopwords and short words included
    (``qué→que``, ``dass→das``, ``où→ou`` are among the commonest real errors).
``diacritics``
    Only diacritic drops and confusions (``é→e``, ``é↔è``, ``ñ→n``, ``ü→u``/``ue``, ``ß→ss``,
    ``ё→е``, ``й→и``), words chosen as in ``rate``. Queries without a diacritic are skipped.
``mixed``
    A blend meant to look like real users' errors. One word changes (probability 0.8) or two
    (0.2, within ``max_edits``); each edit's kind is drawn with :data:`MIXED_WEIGHTS`
    (renormalised over the kinds that apply to the word). The weights follow the broad findings
    on human misspellings: most misspelled words hold a single error of the four Damerau kinds
    (Damerau 1964); keyboard-adjacent slips, omissions and transpositions are the commonest
    typing errors (Kukich 1992, "Techniques for automatically correcting words in text");
    writers of accented languages often leave accents out, and confuse homophone spellings.

Each protocol is one entry of :data:`REGISTRY` (a :class:`Protocol`: its generator, skip rule,
"nothing to do" reason, option defaults and one-line help); validation (:meth:`Spec.make`),
:func:`perturb` and the help of ``xlcli perturb`` read it, so a new protocol is one entry there.

Every variant differs from its source and from the query's earlier variants: a draw that
repeats one is discarded and the RNG draws again (deterministically). When a query cannot give
the requested number of distinct variants (e.g. one accent → one ``diacritics`` variant), it
gets the ones that exist and is counted as *short*. A query with nothing a protocol can change
is *skipped* with a reason.

Scripts: a query most of whose letters are in a script the layout cannot type (Greek text with
lang ``ru``) is not typable — :func:`perturb` says so instead of inventing letters; in a query
that is typable, words in another script (a Latin brand name in a Russian question) are kept
unchanged. Distances (Levenshtein, and Damerau as optimal string alignment) are rapidfuzz's,
between the NFC form of the source and the variant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from rapidfuzz.distance import OSA, Levenshtein

from xlcli import seeding as R
from xlcli.errors import XlcliError
from xlcli.perturb import text as T
from xlcli.perturb.operations import CHAR_OP_NAMES, CHAR_OPS
from xlcli.perturb.tables import MIN_LETTERS, LangTables

DEFAULT_VARIANTS = 10
DEFAULT_RATE = 0.1
DEFAULT_MAX_EDITS = 2
MIXED_WEIGHTS = {
    "keyboard": 0.30, "transpose": 0.15, "delete": 0.15, "insert": 0.10, "substitute": 0.05,
    "diacritic": 0.15, "confusion": 0.10,
}
MIXED_TWO_WORDS = 0.2
ORTHO_KINDS = ("diacritic", "confusion")
MAX_TRIES_PER_VARIANT = 20
MAX_BERNOULLI_ROUNDS = 100


class Op(NamedTuple):
    op: str           # insert | delete | substitute | transpose | keyboard | diacritic | confusion
    word: int         # index of the word among the query's words (0-based)
    pos: int          # character offset in that word
    old: str
    new: str
    at: int           # character offset in the (NFC) source text
    rule: str | None  # orthographic rule name

    def as_dict(self) -> dict:
        d = {"op": self.op, "word": self.word, "pos": self.pos, "at": self.at, "old": self.old, "new": self.new}
        if self.rule is not None:
            d["rule"] = self.rule
        return d

    def describe(self) -> str:
        rule = f" [{self.rule}]" if self.rule and self.rule != self.op else ""
        return f"{self.op}{rule} w{self.word}@{self.pos} {self.old or '∅'}→{self.new or '∅'}"


class Variant(NamedTuple):
    text: str
    ops: tuple[Op, ...]
    levenshtein: int
    damerau: int


@dataclass
class Outcome:
    source: str                 # the NFC text the variants were made from
    seed: int                   # the derived per-query seed
    variants: list[Variant]
    skip: str | None = None     # why no variant could be made


@dataclass(frozen=True)
class Spec:
    """A protocol with its parameters (only those it uses)."""

    protocol: str
    variants: int = DEFAULT_VARIANTS
    rate: float | None = None
    max_edits: int | None = None

    @classmethod
    def make(cls, protocol: str, variants: int | None = None, rate: float | None = None,
             max_edits: int | None = None) -> Spec:
        p = REGISTRY.get(protocol)
        if p is None:
            raise XlcliError(f"unknown protocol {protocol!r}: choose one of {', '.join(REGISTRY)}")
        variants = DEFAULT_VARIANTS if variants is None else variants
        if not 1 <= variants <= 1000:
            raise XlcliError(f"--variants must be between 1 and 1000, got {variants}")
        if rate is not None and p.rate is None:
            raise XlcliError(f"--rate applies to the {' and '.join(uses('rate'))} protocols, not {protocol}")
        if max_edits is not None and p.max_edits is None:
            raise XlcliError(f"--max-edits does not apply to {protocol} ({p.why_no_max_edits})")
        if p.rate is not None:
            rate = p.rate if rate is None else float(rate)
            if not 0.0 < rate <= 1.0:
                raise XlcliError(f"--rate must be in (0, 1], got {rate}")
        if p.max_edits is not None:
            max_edits = p.max_edits if max_edits is None else max_edits
            if max_edits < 1:
                raise XlcliError(f"--max-edits must be at least 1, got {max_edits}")
        return cls(protocol, variants, rate, max_edits)

    def seed_params(self) -> dict:
        """The parameters that shape each variant (not how many there are)."""
        params: dict = {}
        if self.rate is not None:
            params["rate"] = self.rate
        if self.max_edits is not None:
            params["max_edits"] = self.max_edits
        return params

    def params(self) -> dict:
        return {"variants": self.variants, **self.seed_params()}

    def default_name(self) -> str:
        label = REGISTRY[self.protocol].label
        return label(self) if label is not None else self.protocol


# --------------------------------------------------------------------------- query analysis


class Query:
    """A query split into words, with what each protocol may change."""

    __slots__ = ("_ortho", "char_ok", "char_set", "in_script", "tables", "text", "untypable", "words")

    def __init__(self, text: str, t: LangTables):
        self.text = text = T.nfc(text)
        self.tables = t
        script = t.script
        stop = t.stopwords
        words = []
        char_ok = []
        in_script = []
        mine = other = 0
        foreign: dict[str, int] = {}
        for m in T.WORD.finditer(text):
            w = m.group()
            low = T.lower(w)
            ws = T.word_script(w)
            index = len(words)
            words.append((m.start(), m.end(), w, low, T.is_shouting(w)))
            if ws == script:
                mine += len(w)
                in_script.append(index)
                if len(w) >= MIN_LETTERS and low not in stop:
                    char_ok.append(index)
            else:
                for c in w:
                    s = T.script_of(c)
                    if s == script:
                        mine += 1
                    else:
                        other += 1
                        foreign[s] = foreign.get(s, 0) + 1
        self.words = words
        self.char_ok = char_ok
        self.char_set = frozenset(char_ok)
        self.in_script = in_script
        self.untypable = None
        if other > mine:
            self.untypable = T.script_title(sorted(foreign.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
        self._ortho: dict[int, dict] = {}

    def ortho(self, index: int) -> dict:
        found = self._ortho.get(index)
        if found is None:
            found = self.tables.orthography.matches(self.words[index][3])
            self._ortho[index] = found
        return found

    def kinds(self, index: int, allowed: tuple[str, ...]) -> list[str]:
        """The edit kinds (of ``allowed``) that apply to word ``index``."""
        kinds = []
        if index in self.char_set:
            kinds.extend(k for k in CHAR_OP_NAMES if k in allowed)
        if any(k in allowed for k in ORTHO_KINDS):
            found = self.ortho(index)
            kinds.extend(k for k in ORTHO_KINDS if k in allowed and found[k])
        return kinds


def skip_reason(q: Query, protocol: str) -> str | None:
    """Why ``q`` gives no variant under ``protocol`` before any draw, or None."""
    if not q.words:
        return "no words"
    if q.untypable:
        return f"script not typable on {q.tables.lang} layout ({q.untypable})"
    skip = REGISTRY[protocol].skip
    return skip(q) if skip is not None else None


def _no_char_word(q: Query) -> str | None:
    if not q.char_ok:
        return f"no eligible word (all stopwords or shorter than {MIN_LETTERS} letters)"
    return None


# --------------------------------------------------------------------------- generation


def _distances(source: str, text: str) -> tuple[int, int]:
    return Levenshtein.distance(source, text), OSA.distance(source, text)


def _ielab(q: Query, spec: Spec, rnd) -> list[Variant]:
    """The hot path (≥ 50k variants/s on one core): one word, one uniform character operation."""
    n = spec.variants
    t = q.tables
    src = q.text
    words = q.words
    eligible = q.char_ok
    ne = len(eligible)
    nops = len(CHAR_OPS)
    seen = {src}
    out: list[Variant] = []
    lev, osa = Levenshtein.distance, OSA.distance
    tries = 0
    limit = MAX_TRIES_PER_VARIANT * n
    while len(out) < n and tries < limit:
        tries += 1
        index = eligible[int(rnd() * ne)]
        start, _end, w, low, shouting = words[index]
        k = int(rnd() * nops)
        edit = CHAR_OPS[k][1](w, low, shouting, rnd, t)
        j = 1
        while edit is None and j < nops:  # this word cannot take that operation: the next one
            k = (k + 1) % nops
            edit = CHAR_OPS[k][1](w, low, shouting, rnd, t)
            j += 1
        if edit is None:
            continue
        pos, old, new = edit
        at = start + pos
        text = src[:at] + new + src[at + len(old) :]
        if text in seen:
            continue
        seen.add(text)
        out.append(Variant(text, (Op(CHAR_OPS[k][0], index, pos, old, new, at, None),), lev(src, text), osa(src, text)))
    return out


def _pick(kinds: list[str], weights: dict[str, float] | None, rnd) -> str:
    if weights is None:
        return kinds[int(rnd() * len(kinds))]
    total = sum(weights[k] for k in kinds)
    r = rnd() * total
    acc = 0.0
    for k in kinds:
        acc += weights[k]
        if r < acc:
            return k
    return kinds[-1]


def _choose(items: list[int], k: int, rnd) -> list[int]:
    """``k`` distinct items drawn uniformly (partial Fisher–Yates), returned in text order."""
    pool = list(items)
    for i in range(k):
        j = i + int(rnd() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return sorted(pool[:k])


def _edit_word(q: Query, index: int, kinds: list[str], weights, rnd) -> Op | None:
    start, _, w, low, shouting = q.words[index]
    kinds = list(kinds)
    while kinds:
        kind = _pick(kinds, weights, rnd)
        if kind in ORTHO_KINDS:
            options = q.ortho(index)[kind]
            pos, length, new, rule = options[int(rnd() * len(options))]
            old = w[pos : pos + length]
            return Op(kind, index, pos, old, T.cased(new, old, shouting), start + pos, rule)
        edit = _CHAR[kind](w, low, shouting, rnd, q.tables)
        if edit is not None:
            pos, old, new = edit
            return Op(kind, index, pos, old, new, start + pos, None)
        kinds.remove(kind)
    return None


_CHAR = dict(CHAR_OPS)


def _mixed_words(candidates: list[int], spec: Spec, budget: int, rnd) -> list[int]:
    """mixed: one word, or two with probability :data:`MIXED_TWO_WORDS` (within the budget)."""
    k = 2 if rnd() < MIXED_TWO_WORDS else 1
    return _choose(candidates, min(k, budget, len(candidates)), rnd)


def _bernoulli_words(candidates: list[int], spec: Spec, budget: int, rnd) -> list[int]:
    """rate, diacritics: each word with probability ``spec.rate``, at least one, at most the budget."""
    chosen: list[int] = []
    for _ in range(MAX_BERNOULLI_ROUNDS):
        chosen = [i for i in candidates if rnd() < spec.rate]
        if chosen:
            break
    if not chosen:  # p tiny and few words: fall back to one word
        chosen = _choose(candidates, 1, rnd)
    if len(chosen) > budget:
        chosen = _choose(chosen, budget, rnd)
    return chosen


def _multi(q: Query, spec: Spec, rnd, *, allowed: tuple[str, ...], weights: dict[str, float] | None,
           words: Callable[[list[int], Spec, int, Callable[[], float]], list[int]]) -> list[Variant]:
    """Several words may change, one edit each: ``words`` picks them, each edit's kind is drawn
    from the ``allowed`` kinds that apply to the word (uniformly, or with ``weights``)."""
    candidates = []
    kinds_of = {}
    for index in q.in_script:
        kinds = q.kinds(index, allowed)
        if kinds:
            candidates.append(index)
            kinds_of[index] = kinds
    if not candidates:
        return []
    src = q.text
    seen = {src}
    out: list[Variant] = []
    n = spec.variants
    budget = spec.max_edits or 1
    tries = 0
    while len(out) < n and tries < MAX_TRIES_PER_VARIANT * n:
        tries += 1
        chosen = words(candidates, spec, budget, rnd)
        ops = []
        for index in chosen:
            op = _edit_word(q, index, kinds_of[index], weights, rnd)
            if op is not None:
                ops.append(op)
        if not ops:
            continue
        pieces = []
        cursor = 0
        for op in ops:  # in text order, one per word, so the spans never overlap
            pieces.append(src[cursor : op.at])
            pieces.append(op.new)
            cursor = op.at + len(op.old)
        pieces.append(src[cursor:])
        text = "".join(pieces)
        if text in seen:
            continue
        seen.add(text)
        lev, osa = _distances(src, text)
        out.append(Variant(text, tuple(ops), lev, osa))
    return out


def perturb(text: str, t: LangTables, spec: Spec, seed: int) -> Outcome:
    """Variants of one query ``text`` in language ``t.lang`` under ``spec``, seeded by ``seed``."""
    q = Query(text, t)
    qseed = R.query_seed(seed, spec.protocol, spec.seed_params(), t.lang, q.text)
    reason = skip_reason(q, spec.protocol)
    if reason is not None:
        return Outcome(q.text, qseed, [], reason)
    protocol = REGISTRY[spec.protocol]
    variants = protocol.generate(q, spec, R.rng(qseed).random)
    if not variants:
        return Outcome(q.text, qseed, [], protocol.nothing)
    return Outcome(q.text, qseed, variants)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Protocol:
    """One perturbation protocol: all that ``--protocol NAME`` needs, in one registry entry.

    ``generate(query, spec, rnd)`` makes up to ``spec.variants`` distinct variants, drawing only
    from ``rnd`` (so a seed fixes them). ``rate`` / ``max_edits`` are the protocol's defaults for
    those options, or None where the protocol takes no such option (and refuses it).
    """

    name: str
    help: str  # one line for `xlcli perturb --help`
    generate: Callable[[Query, Spec, Callable[[], float]], list[Variant]]
    nothing: str  # why a query that was not skipped gave no variant at all
    skip: Callable[[Query], str | None] | None = None  # a reason to skip a query before drawing
    rate: float | None = None
    max_edits: int | None = None
    why_no_max_edits: str = ""  # said when --max-edits is given to a protocol without one
    label: Callable[[Spec], str] | None = None  # the default variant-set name (default: the protocol's)


_NO_WORD = f"no eligible word (all stopwords or shorter than {MIN_LETTERS} letters, and no orthographic rule applies)"
_ALL_KINDS = CHAR_OP_NAMES + ORTHO_KINDS

REGISTRY: dict[str, Protocol] = {p.name: p for p in (
    Protocol("ielab", "one word, one typo; Zhuang & Zuccon", _ielab, _NO_WORD, skip=_no_char_word,
             why_no_max_edits="it changes exactly one word per variant"),
    Protocol("rate", "each word with probability --rate", partial(_multi, allowed=_ALL_KINDS, weights=None, words=_bernoulli_words),
             _NO_WORD, rate=DEFAULT_RATE, max_edits=DEFAULT_MAX_EDITS, label=lambda spec: f"rate-{spec.rate:g}"),
    Protocol("diacritics", "only dropped or confused diacritics", partial(_multi, allowed=("diacritic",), weights=None, words=_bernoulli_words),
             "no letter with a diacritic to drop or confuse", rate=DEFAULT_RATE, max_edits=DEFAULT_MAX_EDITS),
    Protocol("mixed", "one or two words, a human-like blend of errors", partial(_multi, allowed=_ALL_KINDS, weights=MIXED_WEIGHTS, words=_mixed_words),
             _NO_WORD, max_edits=DEFAULT_MAX_EDITS),
)}
PROTOCOLS = tuple(REGISTRY)


def uses(option: str) -> list[str]:
    """The protocols that take ``option`` (``rate`` or ``max_edits``), in registry order."""
    return [name for name, p in REGISTRY.items() if getattr(p, option) is not None]


def option_help(option: str, what: str) -> str:
    """``rate/diacritics: WHAT (default 0.1).`` — an option's help, read from the registry."""
    defaults = sorted({getattr(REGISTRY[name], option) for name in uses(option)})
    return f"{'/'.join(uses(option))}: {what} (default {', '.join(f'{d:g}' for d in defaults)})."


def protocols_help() -> str:
    """``ielab (one word, one typo; ...) | rate (...) | ...`` — the --protocol help."""
    return " | ".join(f"{p.name} ({p.help})" for p in REGISTRY.values()) + "."
