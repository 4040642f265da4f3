"""``xlcli ingest``: read a benchmark (LoCoMo, BEIR, SQuAD/XQuAD) or query translations."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from xlcli import languages
from xlcli.commands.common import open_existing, open_for_write, out, print_json
from xlcli.commands.ranges import FRACTION, SEED
from xlcli.datasets import beir, locomo, squad, translations
from xlcli.datasets.files import sha256
from xlcli.ingest import IngestResult, ingest_collection, ingest_translations, require_sources

app = typer.Typer(help="Read benchmarks and translations into the store (idempotent by external id).", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print the summary as JSON.")


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value is not None else None


def _report(result: IngestResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    if result.already_done:
        out.print(f"[bold]{result.dataset}[/]: this file was already ingested with these options — nothing added.")
        _report_differ(result)
        return
    added = ", ".join(f"{v:,} {k}" for k, v in result.added.items())
    out.print(f"[bold]{result.dataset}[/]: added {added}.")
    skipped = {k: v for k, v in result.skipped.items() if v}
    if skipped:
        out.print("Already present (skipped): " + ", ".join(f"{v:,} {k}" for k, v in skipped.items()) + ".")
    for title, items in (("Normalised", result.notes.get("normalised", {})), ("Dropped", result.notes.get("dropped", {}))):
        if items:
            table = Table("reason", "count", "example", title=title, title_justify="left")
            for reason, info in items.items():
                table.add_row(reason, str(info["count"]), str(info["example"]))
            out.print(table)
    _report_differ(result)


def _report_differ(result: IngestResult) -> None:
    differ = result.notes.get("differ")
    if differ:
        out.print(f"{differ['count']:,} translations in the file differ from the stored ones; the stored texts are kept "
                  f"(variants and eval runs were computed from them). First: {differ['example']}", markup=False, highlight=False)


@app.command("locomo")
def ingest_locomo(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="LoCoMo JSON (e.g. locomo10.json)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: the file's stem)."),
    test_conversations: str | None = typer.Option(None, "--test-conversations", help="Comma-separated sample ids that form the evaluation split."),
    test_fraction: float | None = typer.Option(None, "--test-fraction", callback=FRACTION, help="Fraction of conversations drawn (seeded) for the evaluation split."),
    seed: int = typer.Option(0, "--seed", callback=SEED, help="Seed for --test-fraction."),
    units: str = typer.Option("turns", "--units", help="Retrieval units: turns, observations, summaries (comma-separated)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """LoCoMo conversations: turns (and optionally observations, summaries) → passages; QA → queries; evidence → qrels.

    With neither --test-conversations nor --test-fraction every conversation is in the test split.
    """
    unit_list = tuple(_csv(units) or [])
    collection = locomo.read(
        file, test_conversations=_csv(test_conversations), test_fraction=test_fraction, seed=seed, units=unit_list
    )
    params = {"file_sha256": sha256(file), "test_conversations": collection.metadata["test_conversations"], "units": list(unit_list)}
    with open_for_write(ctx) as store:
        result = ingest_collection(store, name or file.stem, collection, params, source=str(file))
    _report(result, as_json)


@app.command("beir")
def ingest_beir(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)."),
    split: str = typer.Option("test", "--split", help="Which qrels/<split>.tsv to read."),
    lang: str = typer.Option("en", "--lang", help="Language of corpus and queries."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: the folder's name)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A BEIR folder: corpus → passages, judged queries of the split → queries, qrels."""
    lang = languages.check(lang, where="--lang")
    collection = beir.read(folder, split=split, lang=lang)
    files = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    params = {"files_sha256": [sha256(f) for f in files], "split": split, "lang": lang}
    with open_for_write(ctx) as store:
        result = ingest_collection(store, name or folder.resolve().name, collection, params, source=str(folder))
    _report(result, as_json)


@app.command("squad")
def ingest_squad(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="SQuAD v1.1 / XQuAD JSON."),
    lang: str = typer.Option(..., "--lang", help="Language of this file (ISO 639-1)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: 'squad')."),
    split: str = typer.Option("test", "--split", help="Split the questions belong to."),
    original: bool = typer.Option(
        False, "--original", help="A non-English file whose questions are originals (no English file to translate)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """SQuAD/XQuAD: paragraphs → passages, questions → queries (their paragraph is the qrel).

    XQuAD shares question ids across languages: ingest the English file first, then the others
    under the same --name, and their questions become translations of the English ones. A
    non-English file first is refused unless --original says it has no English counterpart.
    """
    lang = languages.check(lang, where="--lang")
    collection = squad.read(file, lang=lang, split=split)
    params = {"file_sha256": sha256(file), "lang": lang, "split": split}
    with open_for_write(ctx) as store:
        if lang != "en" and not original:
            require_sources(store, name or "squad", lang, file)
        result = ingest_collection(store, name or "squad", collection, params, source=str(file))
    _report(result, as_json)


@app.command("translations")
def ingest_translations_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help='JSONL lines {"query_id": ..., "lang": ..., "text": ...} or a TSV with those columns.'),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset whose queries are translated (default: the only one)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Translations of ingested queries; each inherits its source's qrels, scope, split and metadata."""
    rows = translations.read(file)
    with open_existing(ctx, write=True) as store:
        result = ingest_translations(store, dataset, file, rows, {"file_sha256": sha256(file)})
    _report(result, as_json)


from xlcli.commands import ingest_parallel  # noqa: E402  (its own module: owned by the train step)

app.command("parallel")(ingest_parallel.parallel)

from xlcli.commands import ingest_irds  # noqa: E402  (its own module: ir_datasets is an optional extra)

app.command("ir-datasets")(ingest_irds.ir_datasets_command)
