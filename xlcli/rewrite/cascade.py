"""Word-by-word query translation with a bilingual dictionary: the lookup cascade.

Each word of a query goes down the cascade until a step resolves it, and the step is recorded:

1. ``number`` — numbers are copied.
2. ``name`` (capitalised words away from a sentence start, in languages that do not capitalise
   nouns) — the nearest proper noun of the passages in the query's scope (:mod:`.names`). Done
   *before* the dictionary, which translates names too ("Caroline" → "carolina").
3. ``exact`` — the word, lowercased, is a dictionary entry.
4. ``folded`` — accents and case folded on both sides (``cancion`` finds ``canción``); words of
   4 letters or more only (``à`` is not ``a``).
5. ``lemma`` — its lemma (simplemma, bundled data for ~50 languages) is an entry, exact or folded.
   Before compound splitting: an inflected dictionary word ("Häusern" → "Haus") must not be cut
   into accidental parts; before the typo-tolerant step: an exact match of the lemma is surer than
   an approximate match of the surface form.
6. ``name`` for capitalised words at a sentence start and for German-like nouns: the scope's
   proper nouns, as in 2, now that the dictionary has had its say.
7. ``compound`` — split into dictionary parts (:mod:`.compound`, Koehn & Knight 2003), each translated.
8. ``fuzzy`` — the nearest entry within an edit budget that grows with length (:mod:`.fuzzy`), so a
   misspelled word finds its entry. Never for stopwords (short, and a wrong guess changes the
   question), nor for words the lemmatiser knows (a correctly spelled word missing from the
   dictionary must not be "corrected" into its neighbour: ru какой → такой, "such"), nor for words
   the name rule protects (step 2's words).
9. ``stopword`` — a function word the dictionary lacks is dropped: a foreign "de" or "в" is noise to
   an encoder of the target language and says nothing about what is asked; it is not counted as
   unknown. (Function words the dictionary has are translated like any other word.)
10. otherwise: a protected capitalised word is a ``name`` (kept; ``transliterated`` when its script
   is not the target's); anything else is ``unknown`` (kept, transliterated where the script
   differs) and counted.

French and Italian elisions (``l'été``, ``dell'arte``) are cut into the clitic's full form and the
host word, each translated.

``translations`` (Pirkola 1998, structured queries) keeps up to N translations of a word, in
dictionary order, joined by spaces: a dense encoder sees them as one bag of synonyms.

Resolutions are cached per word (and per scope for the name steps): a misspelled variant shares
all but one word with its clean query, which is what makes tens of thousands of queries a second
possible (``bench/rewrite_speed.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from xlcli.perturb.text import word_script
from xlcli.rewrite import text as T
from xlcli.rewrite.compound import Splitter
from xlcli.rewrite.fuzzy import FuzzyIndex, rank_counts
from xlcli.rewrite.lexicon import Dictionary
from xlcli.rewrite.names import NameIndex, transliterate

# Languages that capitalise every noun: a capital says nothing about a name there.
NOUN_CAPITALISING = frozenset({"de", "lb"})
# Elided clitics (``l'homme``, ``qu'il``, ``dell'arte``) and the word each stands for.
ELISIONS = {
    "fr": {"l": "le", "d": "de", "j": "je", "qu": "que", "n": "ne", "s": "se", "c": "ce", "m": "me", "t": "te",
           "jusqu": "jusque", "lorsqu": "lorsque", "puisqu": "puisque"},
    "it": {"l": "lo", "d": "di", "un": "una", "all": "alla", "dell": "della", "nell": "nella", "sull": "sulla",
           "dall": "dalla", "c": "ci", "v": "vi", "m": "mi", "t": "ti", "s": "si", "quest": "questo", "quell": "quello"},
    "ca": {"l": "el", "d": "de", "m": "em", "t": "et", "s": "es", "n": "en"},
}
FOLD_MIN = 4
# Function words the shared stopword lists lack: French's euphonic -t- of inverted questions (a-t-il).
EXTRA_STOPWORDS = {"fr": frozenset({"t"})}
# Languages whose compounds are written as one word.
COMPOUNDING = frozenset({"de", "nl", "sv", "da", "no", "nb", "nn", "is", "fi", "et", "hu", "af", "lb"})


@dataclass(frozen=True)
class Options:
    """What the cascade may do (the ablations of bench/rewrite_quality.py switch steps off)."""

    translations: int = 1
    lemma: bool = True
    compound: bool = True
    fuzzy: bool = True
    names: bool = True

    def as_dict(self) -> dict:
        return {"translations": self.translations, "lemma": self.lemma, "compound": self.compound,
                "fuzzy": self.fuzzy, "names": self.names}


@dataclass(frozen=True)
class Resolved:
    """How one word was rewritten; ``op`` is its entry of operations_json (serialised once)."""

    out: str
    step: str
    op: str
    unknown: int = 0


def op_json(word: str, step: str, out: str, **extra) -> str:
    """One word's entry of operations_json."""
    return json.dumps({"word": word, "step": step, "out": out, **extra}, ensure_ascii=False, separators=(",", ":"))


def lemmatizer(lang: str) -> tuple[Callable[[str], str], Callable[[str], bool]] | None:
    """simplemma's (lemmatiser, is-a-known-word test) for ``lang``; None where it has no data for it."""
    import simplemma

    try:
        simplemma.lemmatize("a", lang=lang)
    except ValueError:
        return None
    return (lambda word: simplemma.lemmatize(word, lang=lang)), (lambda word: simplemma.is_known(word, lang=lang))


def target_script(dictionary: Dictionary) -> str:
    """The script most of the dictionary's target words are written in."""
    counts: dict[str, int] = {}
    for i, targets in enumerate(dictionary.entries.values()):
        if i >= 2000:
            break
        script = word_script(targets[0]) or "MIXED"
        counts[script] = counts.get(script, 0) + 1
    return max(sorted(counts), key=counts.get)


class Cascade:
    """Rewrites texts of one source language with one dictionary."""

    def __init__(self, dictionary: Dictionary, lang: str, *, names: NameIndex | None, stopwords: frozenset[str],
                 options: Options = Options()):
        self.d = dictionary
        self.lang = lang
        self.names = names if options.names else None
        self.stopwords = stopwords | EXTRA_STOPWORDS.get(lang, frozenset())
        self.options = options
        self.script = target_script(dictionary)
        tools = lemmatizer(lang)
        self._lemma = tools[0] if tools and options.lemma else None
        # A word the lemmatiser knows is spelled correctly: "correcting" it to a neighbouring entry
        # (ru какой → такой, "such") would mistranslate it. Used even when lemmatisation is off.
        self._known = tools[1] if tools else (lambda word: False)
        self._fuzzy: FuzzyIndex | None = None
        self._folded_rank = {key: dictionary.rank[words[0]] for key, words in dictionary.folded.items()}
        self._splitter = Splitter(self._folded_rank.get, self._lemma_key) if options.compound and lang in COMPOUNDING else None
        self._words: dict[tuple[str, bool], Resolved | None] = {}
        self._scoped: dict[tuple[str | None, str], Resolved | None] = {}

    # --- the steps ---------------------------------------------------------------------------

    def _translate(self, targets: list[str]) -> str:
        return " ".join(targets[: self.options.translations])

    def _lemma_key(self, key: str) -> str | None:
        if self._lemma is None:
            return None
        lemma = T.fold(self._lemma(key))
        return lemma if lemma in self.d.folded else None

    def _dictionary(self, word: str) -> Resolved | None:
        low = word.lower()
        if low in self.d.entries:
            out = self._translate(self.d.entries[low])
            return Resolved(out, "exact", op_json(word, "exact", out))
        key = T.fold(word)
        # Short words keep their accents: the diacritic minimal pairs are short function words
        # (fr à/a, où/ou; es él/el, sí/si, tú/tu), where folding would change the word, not repair it.
        if key in self.d.folded and (len(key) >= FOLD_MIN or key == low):
            out = self._translate(self.d.lookup_folded(key))
            return Resolved(out, "folded", op_json(word, "folded", out, key=self.d.folded[key][0]))
        if self._lemma is not None:
            lemma = self._lemma(word)
            lemma_key = T.fold(lemma)
            found = self.d.entries.get(lemma.lower()) or (
                self.d.lookup_folded(lemma_key) if len(lemma_key) >= FOLD_MIN or lemma_key == lemma.lower() else None)
            if found:
                out = self._translate(found)
                return Resolved(out, "lemma", op_json(word, "lemma", out, key=lemma.lower()))
        return None

    def _approximate(self, word: str) -> Resolved | None:
        key = T.fold(word)
        if self._splitter is not None:
            parts = self._splitter.split(key)
            if parts:
                out = " ".join(self._translate(self.d.lookup_folded(p)) for p in parts)
                return Resolved(out, "compound", op_json(word, "compound", out, parts=parts))
        if self.options.fuzzy and key not in self.stopwords and not self._known(word):
            match = self._index().lookup(key)
            if match is not None:
                out = self._translate(self.d.lookup_folded(match.term))
                return Resolved(out, "fuzzy", op_json(word, "fuzzy", out, key=self.d.folded[match.term][0], dist=match.distance))
        return None

    def _index(self) -> FuzzyIndex:
        if self._fuzzy is None:  # built on first need: exact-only runs never pay for it
            self._fuzzy = FuzzyIndex(rank_counts(self.d.folded))
        return self._fuzzy

    def _name(self, word: str, scope: str | None) -> Resolved | None:
        if self.names is None:
            return None
        cache_key = (scope, word)
        if cache_key not in self._scoped:
            hit = self.names.nearest(word, scope)
            self._scoped[cache_key] = None if hit is None else Resolved(hit[0], "name", op_json(word, "name", hit[0], score=hit[1]))
        return self._scoped[cache_key]

    def _stopword(self, word: str) -> Resolved:
        return Resolved("", "stopword", op_json(word, "stopword", ""))

    def _kept(self, word: str, step: str) -> Resolved:
        if word_script(word) not in (self.script, None) and self.script != "MIXED":
            out = transliterate(word)
            if out != word:
                return Resolved(out, "transliterated" if step == "name" else step,
                                op_json(word, "transliterated" if step == "name" else step, out), unknown=int(step == "unknown"))
        return Resolved(word, step, op_json(word, step, word), unknown=int(step == "unknown"))

    # --- one word, one text ----------------------------------------------------------------------

    def word(self, word: str, *, initial: bool, scope: str | None) -> Resolved:
        clitics = ELISIONS.get(self.lang)
        if clitics and ("'" in word or "’" in word):
            prefix, _, host = word.replace("’", "'").partition("'")
            if prefix.lower() in clitics and host:
                first = self._one(clitics[prefix.lower()], initial=initial, scope=scope)
                rest = self._one(host, initial=False, scope=scope)
                out = " ".join(x for x in (first.out, rest.out) if x)
                return Resolved(out, rest.step, op_json(word, rest.step, out, parts=[prefix + "'", host]),
                                first.unknown + rest.unknown)
        return self._one(word, initial=initial, scope=scope)

    def _one(self, word: str, *, initial: bool, scope: str | None) -> Resolved:
        capital = T.capitalised(word)
        protected = capital and not initial and self.lang not in NOUN_CAPITALISING
        if protected:
            hit = self._name(word, scope)
            if hit is not None:
                return hit
        cache_key = (word, protected)
        if cache_key in self._words:
            found = self._words[cache_key]
        else:
            found = self._dictionary(word)
            if found is None and not protected and not capital:
                found = self._approximate(word)
            self._words[cache_key] = found
        if found is not None:
            return found
        if word.lower() in self.stopwords:
            return self._stopword(word)
        if capital and not protected:
            hit = self._name(word, scope)
            if hit is not None:
                return hit
            approx_key = (word, None)
            if approx_key not in self._words:
                self._words[approx_key] = self._approximate(word)
            if self._words[approx_key] is not None:
                return self._words[approx_key]
        noun_name = capital and not initial  # German nouns end here only when nothing translated them
        return self._kept(word, "name" if protected or noun_name else "unknown")

    def rewrite(self, text: str, scope: str | None = None) -> tuple[str, str, int]:
        """(rewritten text, operations_json, unknown words)."""
        head, pieces = T.split(text)
        outputs, ops, unknown = [], [], 0
        for piece in pieces:
            if piece.number:
                outputs.append(piece.text)
                ops.append(op_json(piece.text, "number", piece.text))
                continue
            r = self.word(piece.text, initial=piece.initial, scope=scope)
            outputs.append(T.recase(r.out, piece.text) if r.step in ("name", "transliterated") else r.out)
            ops.append(r.op)
            unknown += r.unknown
        return T.join(head, outputs, pieces), "[" + ",".join(ops) + "]", unknown
