"""``xlcli ingest parallel``: line-aligned parallel sentences for the alignment objective of ``train``."""

from __future__ import annotations

from pathlib import Path

import typer

from xlcli import languages
from xlcli.commands.common import open_for_write, out, print_json
from xlcli.datasets.files import sha256
from xlcli.datasets.parallel import read_parallel
from xlcli.errors import XlcliError
from xlcli.train import alignment_data


def parallel(
    ctx: typer.Context,
    src_file: Path = typer.Argument(..., help="Sentences in the foreign language, one per line (e.g. tatoeba.spa-eng.spa)."),
    en_file: Path = typer.Argument(..., help="Their English translations, line by line (e.g. tatoeba.spa-eng.eng)."),
    lang: str = typer.Option(..., "--lang", help="Language of SRC_FILE (ISO 639-1)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: SRC_FILE's name before the first dot, plus the language, e.g. tatoeba-es)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Line-aligned parallel sentences (Tatoeba / OPUS style): `train --parallel NAME` aligns on them."""
    lang = languages.check(lang, where="--lang")
    if lang == "en":
        raise XlcliError("--lang en: SRC_FILE must be the non-English side of the pair (EN_FILE is the English one)")
    sentences = read_parallel(src_file, en_file, lang)
    dataset = name or f"{src_file.name.split('.')[0]}-{lang}"
    params = {"src_sha256": sha256(src_file), "en_sha256": sha256(en_file)}
    with open_for_write(ctx) as store:
        summary = alignment_data.ingest(store, dataset, lang, sentences, params, source=str(src_file), en_source=str(en_file))
    if as_json:
        print_json(summary)
    elif summary["already_done"]:
        out.print(f"[bold]{dataset}[/]: these files were already ingested — nothing to do.")
    else:
        out.print(f"[bold]{dataset}[/]: added {summary['pairs']:,} {languages.name(lang)}–English sentence pairs.")
