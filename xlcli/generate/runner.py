"""Run a query generator over a dataset as one resumable step invocation.

The backends (seq2seq, lexicon) only turn (passage, language) pairs into query texts; this module
validates, names the generator run, skips the pairs that already have rows, and writes each batch
in one transaction. Machine translation of stored queries lives here too (``translate_queries``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import text

from xlcli.datasets.translations import Translation
from xlcli.errors import XlcliError
from xlcli.generate import store as gen_store
from xlcli.generate.store import GeneratedRow, PassageRow, RunSpec
from xlcli.seeding import derive_seed
from xlcli.store import Store, invocations
from xlcli.store.catalog import resolve_dataset

Pair = tuple[PassageRow, str]


class Backend(Protocol):
    batch_size: int

    def generate(self, pairs: Sequence[Pair]) -> list[list[tuple[str, dict]]]:
        """For each (passage, language) pair, its N (text, metadata) queries."""


@dataclass
class GenerationResult:
    run: str
    backend: str
    already_done: bool = False
    pairs: int = 0
    skipped: int = 0
    added: int = 0
    coverage: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"run": self.run, "backend": self.backend, "already_done": self.already_done, "pairs": self.pairs,
                "pairs_already_done": self.skipped, "queries_added": self.added, "coverage": self.coverage}


@dataclass
class Plan:
    """Everything checked and loaded before the store is touched."""

    spec: RunSpec
    passages: list[PassageRow]


def plan(store: Store, dataset: str | None, *, backend: str, model: str | None, langs: list[str], params: dict,
         requested_name: str | None, derived_name: str, limit: int | None = None) -> Plan:
    if limit is not None and limit < 1:
        raise XlcliError(f"--limit {limit}: must be at least 1")
    with store.read() as conn:
        row = resolve_dataset(conn, dataset)
        passages = gen_store.load_passages(conn, row["id"], limit=limit)
        if not passages:
            raise XlcliError(f"dataset {row['name']!r} has no passages to generate queries for")
        spec = RunSpec(row["id"], row["name"], backend, model, langs, {**params, "limit": limit})
        spec.name = gen_store.choose_name(conn, spec, requested_name, derived_name)
    return Plan(spec, passages)


def run(store: Store, plan_: Plan, backend: Backend, *, on_start: Callable[[int, int], None] | None = None,
        on_batch: Callable[[int, str], None] | None = None) -> GenerationResult:
    """Generate the missing (passage, language) pairs of the run, one transaction per batch."""
    spec = plan_.spec
    result = GenerationResult(spec.name, spec.backend, pairs=len(plan_.passages) * len(spec.langs))
    with invocations.step(store, "generate", {"run": spec.name, **spec.identity}) as inv:
        if inv.already_done:
            result.already_done = True
            result.skipped = result.pairs
        else:
            with store.write() as conn:
                run_id = gen_store.ensure_run(conn, spec, inv.id)
            with store.read() as conn:
                done = gen_store.done_pairs(conn, run_id)
            pending = [(p, lang) for p in plan_.passages for lang in spec.langs if (p.id, lang) not in done]
            result.skipped = result.pairs - len(pending)
            if on_start is not None:
                on_start(len(pending), result.skipped)
            # Long passages together: less padding. Output does not depend on the order (per-item seeds).
            pending.sort(key=lambda pair: -len(pair[0].text))
            for start in range(0, len(pending), backend.batch_size):
                chunk = pending[start : start + backend.batch_size]
                outputs = backend.generate(chunk)
                rows = [
                    GeneratedRow(passage.id, lang, idx, query_text, metadata)
                    for (passage, lang), queries in zip(chunk, outputs)
                    for idx, (query_text, metadata) in enumerate(queries)
                ]
                result.added += gen_store.write_rows(store, run_id, rows, inv.id)
                if on_batch is not None:
                    on_batch(len(chunk), chunk[-1][1])
            inv.summary = {"pairs": result.pairs, "pairs_already_done": result.skipped, "queries_added": result.added}
    if spec.backend == "lexicon":
        result.coverage = lexicon_coverage(store, spec.name)
    return result


def lexicon_coverage(store: Store, run_name: str) -> dict:
    """Per language: pseudo-query terms translated / not in the dictionary / kept (names, numbers)."""
    with store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT q.lang AS lang, count(*) AS queries,"
                " sum(json_extract(q.metadata_json, '$.found')) AS found,"
                " sum(json_extract(q.metadata_json, '$.oov')) AS oov,"
                " sum(json_extract(q.metadata_json, '$.kept')) AS kept"
                " FROM generated_queries q JOIN generator_runs g ON g.id = q.generator_run_id"
                " WHERE g.name = :n GROUP BY q.lang ORDER BY q.lang"
            ),
            {"n": run_name},
        ).mappings().all()
    coverage = {}
    for r in rows:
        found, oov, kept = int(r["found"] or 0), int(r["oov"] or 0), int(r["kept"] or 0)
        coverage[r["lang"]] = {
            "queries": r["queries"], "terms": found + oov + kept, "translated": found, "oov": oov, "kept": kept,
            "coverage": found / (found + oov) if found + oov else 0.0,
        }
    return coverage


# --- backends -------------------------------------------------------------------------------------


@dataclass
class Seq2SeqBackend:
    generator: object  # xlcli.generate.seq2seq.Seq2SeqGenerator
    prompt: str
    per_lang: int
    seed: int
    batch_size: int = 16

    def generate(self, pairs: Sequence[Pair]) -> list[list[tuple[str, dict]]]:
        from xlcli.generate.seq2seq import format_prompt

        inputs = [format_prompt(self.prompt, lang=lang, title=p.title, passage=p.text) for p, lang in pairs]
        seeds = [[derive_seed(self.seed, p.ext_id, lang, j) for j in range(self.per_lang)] for p, lang in pairs]
        outputs = self.generator.sample(inputs, seeds)
        return [[(t, {"seed": s}) for t, s in zip(texts, row_seeds)] for texts, row_seeds in zip(outputs, seeds)]


@dataclass
class LexiconBackend:
    generator: object  # xlcli.generate.lexicon.LexiconGenerator
    batch_size: int = 512

    def generate(self, pairs: Sequence[Pair]) -> list[list[tuple[str, dict]]]:
        return [
            [(q.text, q.as_metadata()) for q in self.generator.queries(p.ext_id, p.text, lang)]
            for p, lang in pairs
        ]


# --- machine translation of stored queries ---------------------------------------------------------


@dataclass
class TranslationResult:
    dataset: str
    translator: str
    already_done: bool = False
    sources: int = 0
    added: dict = field(default_factory=dict)
    present: int = 0

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "translator": self.translator, "already_done": self.already_done,
                "source_queries": self.sources, "added": self.added, "already_present": self.present}


def source_queries(store: Store, dataset: str | None, source: str, split: str | None):
    """(dataset row, the queries in ``source`` to translate: originals and human translations)."""
    with store.read() as conn:
        row = resolve_dataset(conn, dataset)
        sql = ("SELECT id, ext_id, lang, split, scope, text, metadata_json FROM queries"
               " WHERE dataset_id = :d AND lang = :l AND translator = ''")
        if split is not None:
            sql += " AND split = :s"
        rows = [dict(r) for r in conn.execute(text(sql + " ORDER BY id"), {"d": row["id"], "l": source, "s": split}).mappings()]
    if not rows:
        where = f" in split {split!r}" if split else ""
        raise XlcliError(f"--from {source}: dataset {row['name']!r} has no {source} queries{where} to translate")
    return row, rows


def translate_queries(store: Store, dataset_row, sources: list[dict], translator, targets: dict, *, model_name: str,
                      params: dict, batch_size: int = 32, on_start: Callable[[int], None] | None = None,
                      on_batch: Callable[[int, str], None] | None = None) -> TranslationResult:
    """Translate ``sources`` into every target; each batch written (with copied qrels) in one transaction."""
    if batch_size < 1:
        raise XlcliError(f"--batch-size {batch_size}: must be at least 1")
    result = TranslationResult(dataset_row["name"], model_name, sources=len(sources))
    by_ext = {q["ext_id"]: q for q in sources}
    with invocations.step(store, "generate-translations", {"dataset": dataset_row["name"], "model": model_name, **params}) as inv:
        if inv.already_done:
            result.already_done = True
            return result
        with store.read() as conn:
            existing = set(conn.execute(
                text("SELECT ext_id, lang FROM queries WHERE dataset_id = :d AND translator = :t"),
                {"d": dataset_row["id"], "t": model_name},
            ).all())
        todo = [(lang, q) for lang in targets for q in sources if (q["ext_id"], lang) not in existing]
        result.present = len(targets) * len(sources) - len(todo)
        if on_start is not None:
            on_start(len(todo))
        for lang in targets:  # one target language per model call
            queue = [q for target, q in todo if target == lang]
            for start in range(0, len(queue), batch_size):
                _translate_batch(store, dataset_row["id"], translator, targets[lang], queue[start : start + batch_size],
                                 model_name=model_name, originals=by_ext, invocation_id=inv.id, result=result)
                if on_batch is not None:
                    on_batch(len(queue[start : start + batch_size]), lang)
        inv.summary = result.as_dict()
    return result


def _translate_batch(store: Store, dataset_id: int, translator, target, chunk: list[dict], *, model_name: str,
                     originals: dict, invocation_id: int, result: TranslationResult) -> None:
    from xlcli.ingest import write_translations

    texts = translator.translate([q["text"] for q in chunk], target)
    records = [Translation(q["ext_id"], target.lang, t, model_name) for q, t in zip(chunk, texts)]
    with store.write() as conn:
        added, _ = write_translations(conn, dataset_id, records, translator=model_name, invocation_id=invocation_id,
                                      originals=originals)
    result.added[target.lang] = result.added.get(target.lang, 0) + added
