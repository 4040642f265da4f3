"""``xlcli ingest ir-datasets``: passages, queries and graded qrels of any ir_datasets dataset id."""

from __future__ import annotations

import typer

from xlcli.commands.common import open_for_write


def ir_datasets_command(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(..., help="An ir_datasets id, e.g. mmarco/v2/es/dev/small, miracl/es/dev, neuclir/1/ru/trec-2022."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the documents (default: what the dataset says)."),
    queries_lang: str | None = typer.Option(None, "--queries-lang", help="Language of the queries (default: what the dataset says; NeuCLIR needs it)."),
    split: str = typer.Option("test", "--split", help="Split the queries get in the store; a dataset id without queries is tried as ID/SPLIT."),
    query_field: str | None = typer.Option(None, "--query-field", help="Query field to use (default: text, else the dataset's default text, e.g. a topic's title)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name in the store (default: the id with '/' → '-')."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Any ir_datasets dataset (mMARCO, MIRACL, Mr. TyDi, NeuCLIR, BEIR...): documents stream into the store in batches.

    Needs the optional extra: pip install 'xlcli[ir-datasets]'. Re-running with the same options adds nothing.
    """
    from xlcli.commands.ingest import _report
    from xlcli.datasets import ir_datasets as reader
    from xlcli.ingest_stream import ingest_source

    source = reader.open_dataset(dataset_id, split=split, lang=lang, queries_lang=queries_lang, query_field=query_field)
    params = {"ir_datasets_id": source.dataset_id, "split": split, "lang": source.docs_lang,
              "queries_lang": source.queries_lang, "query_field": source.query_field}
    with open_for_write(ctx) as store:
        result = ingest_source(store, name or source.dataset_id.replace("/", "-"), source, params)
    _report(result, as_json)
