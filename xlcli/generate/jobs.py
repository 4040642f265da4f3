"""Validated generation jobs: everything a user gave is checked (and models and dictionaries are
loaded) here, before the store is written; ``runner.run`` then does the work.

Each function returns ``(plan, make_backend)``: ``make_backend()`` builds the backend once the
caller is ready to run (the lexicon backend reads the dataset's passages for its statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from xlcli import languages
from xlcli.errors import XlcliError
from xlcli.generate import lexicon as lex
from xlcli.generate import runner, seq2seq
from xlcli.store import Store

Job = tuple[runner.Plan, Callable[[], runner.Backend]]


def _at_least(value: int, flag: str, minimum: int = 1) -> int:
    if value < minimum:
        raise XlcliError(f"{flag} {value}: must be at least {minimum}")
    return value


def parse_lexicons(values: list[str]) -> dict[str, Path]:
    """``["es=path", ...]`` → {language: path}."""
    found: dict[str, Path] = {}
    for value in values:
        lang, sep, path = value.partition("=")
        if not sep or not path.strip():
            raise XlcliError(f"--lexicon {value!r}: write LANG=PATH, e.g. --lexicon es=dicts/en-es.txt")
        lang = languages.check(lang, where="--lexicon")
        if lang in found:
            raise XlcliError(f"--lexicon: two dictionaries for {lang!r}")
        found[lang] = Path(path.strip()).expanduser()
    return found


def lexicon_job(store: Store, *, lexicons: dict[str, Path], langs: list[str] | None = None, per_lang: int = 5,
                terms: str = "3-6", seed: int = 0, dataset: str | None = None, name: str | None = None,
                limit: int | None = None) -> Job:
    from xlcli.perturb.tables import stopwords  # the project's stopword lists, shared with perturb

    if not lexicons:
        raise XlcliError("--backend lexicon needs at least one --lexicon LANG=PATH (MUSE format: source target per line)")
    _at_least(per_lang, "--per-lang")
    wanted = langs or list(lexicons)
    missing = [lang for lang in wanted if lang not in lexicons]
    if missing:
        raise XlcliError(f"--langs: no --lexicon for {', '.join(missing)} (give --lexicon {missing[0]}=PATH)")
    low, high = lex.parse_terms_range(terms)
    dictionaries = {lang: lex.read_muse(lexicons[lang]) for lang in wanted}
    params = {
        "per_lang": per_lang, "terms": [low, high], "seed": seed,
        "lexicons": {lang: {"path": str(d.path.resolve()), "sha256": d.sha256, "entries": len(d), "pairs": d.pairs}
                     for lang, d in dictionaries.items()},
    }
    plan = runner.plan(store, dataset, backend="lexicon", model=None, langs=wanted, params=params,
                       requested_name=name, derived_name="lexicon-" + "-".join(wanted), limit=limit)

    def make() -> runner.Backend:
        # TF-IDF statistics over all the dataset's passages, also when --limit restricts the output.
        with store.read() as conn:
            texts = [r[0] for r in conn.execute(text("SELECT text FROM passages WHERE dataset_id = :d ORDER BY id"),
                                                {"d": plan.spec.dataset_id}).all()]
        stats = lex.CorpusStats(texts, stopwords(plan.passages[0].lang))
        return runner.LexiconBackend(lex.LexiconGenerator(stats, dictionaries, per_lang, low, high, seed))

    return plan, make


def seq2seq_job(store: Store, *, model: str, langs: list[str], per_lang: int = 5, top_k: int = 10,
                max_new_tokens: int = 32, batch_size: int = 16, prompt: str = seq2seq.DEFAULT_PROMPT, seed: int = 0,
                dataset: str | None = None, name: str | None = None, limit: int | None = None,
                device: str = "auto", warn: Callable[[str], None] | None = None) -> Job:
    from xlcli.encoders import resolve_path

    _at_least(per_lang, "--per-lang")
    _at_least(top_k, "--top-k", 0)
    _at_least(max_new_tokens, "--max-new-tokens")
    _at_least(batch_size, "--batch-size")
    seq2seq.check_prompt(prompt)
    source, path = resolve_path(model) if model != "default" else ("package", model)
    model_id = path if source == "path" else model
    params = {"prompt": prompt, "per_lang": per_lang, "top_k": top_k, "max_new_tokens": max_new_tokens, "seed": seed,
              "max_input_tokens": seq2seq.MAX_INPUT_TOKENS, "sampling": "top-k, one seeded generator per query"}
    plan = runner.plan(store, dataset, backend="seq2seq", model=model_id, langs=langs, params=params,
                       requested_name=name, derived_name=f"{Path(model_id.rstrip('/')).name}-{'-'.join(langs)}",
                       limit=limit)
    tokenizer, network, dev = seq2seq.load_seq2seq(model, device=device)  # a refused model: before any write
    warning = seq2seq.model_warning(model, langs)
    if warning and warn is not None:
        warn(warning)

    def make() -> runner.Backend:
        generator = seq2seq.Seq2SeqGenerator(tokenizer, network, dev, top_k=top_k, max_new_tokens=max_new_tokens)
        return runner.Seq2SeqBackend(generator, prompt, per_lang, seed, batch_size)

    return plan, make
