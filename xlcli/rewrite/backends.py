"""The rewrite backends, one registry entry each: ``BACKENDS[name]`` is what help texts and
validation read, and what a new backend adds itself to.

A backend is built from a :class:`Request` (everything the user gave) and a :class:`Context` (the
dataset's passages, read on demand), validating and loading everything (dictionaries, models)
before the store is written; it then turns batches of :class:`Item` into ``(text,
operations_json, unknown)`` triples and says what identifies its output (:meth:`identity`, part of
the rewrite run's key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from xlcli.errors import XlcliError


@dataclass(frozen=True)
class Item:
    """One text to rewrite: a clean query (variant_id 0) or one of its variants."""

    query_id: int
    variant_id: int
    lang: str
    scope: str | None
    text: str


Output = tuple[str, str, int | None]  # (text, operations_json, unknown words)


@dataclass
class Request:
    backend: str
    target: str | None = None
    lexicons: dict[str, Path] = field(default_factory=dict)
    model: str | None = None
    translations: int = 1
    lemma: bool = True
    compound: bool = True
    fuzzy: bool = True
    names: bool = True
    device: str = "auto"
    batch_size: int | None = None
    num_beams: int = 4
    max_new_tokens: int = 128


@dataclass
class Context:
    langs: list[str]
    passages: Callable[[], list[tuple[str, str | None, str]]]  # (lang, scope, text) of the dataset


def _only(request: Request, backend: str, **given) -> None:
    for flag, value in given.items():
        if value:
            raise XlcliError(f"--{flag.replace('_', '-')} does not apply to --backend {backend}")


class LexiconBackend:
    name: ClassVar[str] = "lexicon"
    help: ClassVar[str] = ("word by word with bilingual MUSE dictionaries (--lexicon LANG=PATH; en-xx read in reverse): "
                           "exact, folded, lemma, compound, typo-tolerant, names")
    batch_size = 5000

    def __init__(self, cascades: dict, target: str, options, dictionaries: dict):
        self.cascades, self.target, self.options, self.dictionaries = cascades, target, options, dictionaries

    @classmethod
    def build(cls, request: Request, context: Context) -> LexiconBackend:
        from xlcli.generate.lexicon import CorpusStats
        from xlcli.perturb.tables import stopwords
        from xlcli.rewrite import lexicon
        from xlcli.rewrite.cascade import Cascade, Options
        from xlcli.rewrite.names import NameIndex

        _only(request, cls.name, model=request.model)
        target = request.target or "en"
        same = [lang for lang in context.langs if lang == target]
        if same:
            raise XlcliError(f"--to {target}: the {same[0]} queries are already in {target}; to correct their spelling use --backend spell")
        if not request.lexicons:
            raise XlcliError("--backend lexicon needs --lexicon LANG=PATH for each language (MUSE format, e.g. en-es.txt)")
        missing = [lang for lang in context.langs if lang not in request.lexicons]
        if missing:
            raise XlcliError(f"--langs: no --lexicon for {', '.join(missing)} (give --lexicon {missing[0]}=PATH, e.g. en-{missing[0]}.txt)")
        if request.translations < 1:
            raise XlcliError(f"--translations {request.translations}: must be at least 1")
        dictionaries = {lang: lexicon.load(request.lexicons[lang], lang, target) for lang in context.langs}
        options = Options(request.translations, request.lemma, request.compound, request.fuzzy, request.names)
        names = None
        if request.names:
            passages = context.passages()
            stats = CorpusStats((t for _, _, t in passages), frozenset())
            names = NameIndex.from_passages(((scope, t) for _, scope, t in passages), stats)
        cascades = {lang: Cascade(d, lang, names=names, stopwords=stopwords(lang), options=options)
                    for lang, d in dictionaries.items()}
        backend = cls(cascades, target, options, dictionaries)
        if request.batch_size:
            backend.batch_size = request.batch_size
        return backend

    def identity(self) -> dict:
        return {"lexicons": {lang: d.identity() for lang, d in self.dictionaries.items()}, "options": self.options.as_dict()}

    def rewrite(self, items: Sequence[Item]) -> list[Output]:
        return [self.cascades[i.lang].rewrite(i.text, i.scope) for i in items]


class MTBackend:
    name: ClassVar[str] = "mt"
    help: ClassVar[str] = "a machine-translation model (--model: Marian opus-mt-*, M2M100, NLLB, mBART-50; hub id or directory)"
    batch_size = 32

    def __init__(self, translator, model_id: str, request: Request):
        self.translator, self.model_id, self.request = translator, model_id, request

    @classmethod
    def build(cls, request: Request, context: Context) -> MTBackend:
        from xlcli.encoders import resolve_path
        from xlcli.rewrite.mt import MachineTranslator

        _only(request, cls.name, lexicon=request.lexicons, translations=request.translations != 1)
        if not request.model:
            raise XlcliError("--backend mt needs --model (e.g. Helsinki-NLP/opus-mt-es-en or a model directory)")
        for flag, value in (("--num-beams", request.num_beams), ("--max-new-tokens", request.max_new_tokens)):
            if value < 1:
                raise XlcliError(f"{flag} {value}: must be at least 1")
        target = request.target or "en"
        same = [lang for lang in context.langs if lang == target]
        if same:
            raise XlcliError(f"--to {target}: the {same[0]} queries are already in {target}; to correct their spelling use --backend spell")
        kind, path = resolve_path(request.model) if request.model != "default" else ("package", request.model)
        translator = MachineTranslator.load(request.model, context.langs, target, device=request.device,
                                            num_beams=request.num_beams, max_new_tokens=request.max_new_tokens)
        backend = cls(translator, path if kind == "path" else request.model, request)
        if request.batch_size:
            backend.batch_size = request.batch_size
        return backend

    @property
    def target(self) -> str:
        return self.request.target or "en"

    def identity(self) -> dict:
        return {"model": self.model_id, "family": self.translator.family,
                "options": {"num_beams": self.request.num_beams, "max_new_tokens": self.request.max_new_tokens}}

    def rewrite(self, items: Sequence[Item]) -> list[Output]:
        by_lang: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            by_lang.setdefault(item.lang, []).append(i)
        out: list[Output | None] = [None] * len(items)
        for lang, positions in by_lang.items():
            texts = self.translator.translate(lang, [items[p].text for p in positions])
            for p, t in zip(positions, texts):
                out[p] = (t, "[]", None)
        return out  # type: ignore[return-value]


class SpellBackend:
    name: ClassVar[str] = "spell"
    help: ClassVar[str] = ("same-language spelling correction: nearest word of the corpus vocabulary "
                           "(plus the LANG side of --lexicon LANG=PATH), by edit distance and frequency")
    batch_size = 5000
    target = "source"  # each query stays in its own language

    def __init__(self, spellers: dict, sources: dict):
        self.spellers, self.sources = spellers, sources

    @classmethod
    def build(cls, request: Request, context: Context) -> SpellBackend:
        from xlcli.generate.lexicon import read_muse
        from xlcli.rewrite.lexicon import name_pairs
        from xlcli.rewrite.spell import Speller, Vocabulary

        _only(request, cls.name, model=request.model, translations=request.translations != 1)
        if request.target is not None and any(lang != request.target for lang in context.langs):
            raise XlcliError(f"--to {request.target}: --backend spell corrects each query in its own language; drop --to")
        sides: dict[str, list[str]] = {}
        sources: dict[str, dict] = {}
        for lang, path in request.lexicons.items():
            if lang not in context.langs:  # dictionaries of languages not rewritten this time are not read
                continue
            pair = next(((a, b) for a, b in name_pairs(path) if lang in (a, b)), None)
            if pair is None:
                raise XlcliError(f"--lexicon {lang}={path}: the file name does not say which side is {lang} (name it e.g. en-{lang}.txt)")
            muse = read_muse(path)
            words = list(muse.entries) if pair[0] == lang else list(dict.fromkeys(t for ts in muse.entries.values() for t in ts))
            sides[lang] = words
            sources[lang] = {"path": str(Path(path).resolve()), "sha256": muse.sha256, "side": "source" if pair[0] == lang else "target"}
        passages = context.passages()
        spellers = {}
        for lang in context.langs:
            vocabulary = Vocabulary((t for plang, _, t in passages if plang == lang), sides.get(lang, ()))
            if not len(vocabulary):
                raise XlcliError(
                    f"--langs {lang}: no vocabulary to correct {lang} against — the dataset has no {lang} passages;"
                    f" give --lexicon {lang}=PATH (a MUSE file with a {lang} side)"
                )
            spellers[lang] = Speller(vocabulary, lang)
            sources.setdefault(lang, {})["vocabulary"] = len(vocabulary)
        backend = cls(spellers, sources)
        if request.batch_size:
            backend.batch_size = request.batch_size
        return backend

    def identity(self) -> dict:
        return {"vocabularies": self.sources}

    def rewrite(self, items: Sequence[Item]) -> list[Output]:
        return [self.spellers[i.lang].rewrite(i.text, i.scope) for i in items]


BACKENDS: dict[str, type] = {b.name: b for b in (LexiconBackend, MTBackend, SpellBackend)}


def help_text() -> str:
    return "; ".join(f"{name}: {cls.help}" for name, cls in BACKENDS.items())


def get(name: str) -> type:
    if name not in BACKENDS:
        raise XlcliError(f"--backend {name!r}: unknown backend (choose one of: {', '.join(BACKENDS)})")
    return BACKENDS[name]
