"""A system with a query rewrite ranks the rewritten texts: which query sets it covers, and those texts.

Translate-test (Li et al., AAAI 2022, Dr.DECR's teacher; Yang et al. 2024, Translate-Distill) and
same-language spelling correction are systems like any other: ``INDEX@REWRITE`` ranks, for every
query and every misspelled variant of it, the text the rewrite run stored for that (query, variant)
— measured against the original query's qrels, so its values sit beside the direct system's.

What a rewrite system evaluates (decided here, once):

- **Languages.** The languages the rewrite run covers. Without ``--langs`` the other languages of
  the split are left out for that system; a language named in ``--langs`` that the rewrite does
  not cover is an error — except the rewrite's target language (English queries under an es→en
  lexicon rewrite): those queries are already in the index's language, so the direct system *is*
  that system there, and the rewrite system leaves them out.
- **Split.** A rewrite run of one split cannot serve another (error); one of every split serves any.
- **Variant sets.** With ``--variants all`` the sets the rewrite covers; a set named in
  ``--variants`` that it does not cover is an error. Every (query, variant) of a covered set must
  have a rewritten text, or the rewrite run is incomplete (error: finish it first).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection

from xlcli.errors import XlcliError
from xlcli.eval.querysets import CLEAN, QueryItem, QuerySet
from xlcli.rewrite import store as rewrites
from xlcli.rewrite.store import RewriteRun


def resolve(conn: Connection, name: str, dataset: dict) -> RewriteRun:
    """The rewrite run ``name`` of the evaluated dataset, or one line listing the rewrite runs there are."""
    return rewrites.get_run(conn, name, dataset_id=dataset["id"], where="--rewrite")


def check_coverage(run: RewriteRun, *, langs: list[str], langs_given: bool, split: str,
                   variant_sets: list[dict], variants_given: bool) -> None:
    """Refuse, before any work, an explicit language / split / variant set the rewrite does not cover."""
    if run.split is not None and run.split != split:
        raise XlcliError(f"--rewrite {run.name}: it rewrote the {run.split!r} split, not {split!r}; "
                         f"evaluate with --split {run.split} or rewrite the {split!r} split under another --name")
    if langs_given:
        missing = [lang for lang in langs if lang not in run.langs and lang != run.target_lang]
        if missing:
            raise XlcliError(f"--rewrite {run.name}: it does not cover {', '.join(missing)} queries (it rewrote "
                             f"{', '.join(run.langs) or 'none'}); leave those out of --langs or rewrite them under another --name")
    if variants_given:
        missing = [vs["condition"] for vs in variant_sets if vs["name"] not in run.variant_sets]
        if missing:
            raise XlcliError(f"--rewrite {run.name}: it did not rewrite variant set {', '.join(missing)} (it rewrote: "
                             f"{', '.join(run.variant_sets) or 'none'}); leave it out of --variants or rewrite it under another --name")
    if not run.langs:
        raise XlcliError(f"--rewrite {run.name}: the rewrite run covers no languages")


def covers(run: RewriteRun, qs: QuerySet, variant_sets: dict[int, str]) -> bool:
    """Whether the system ``INDEX@run`` evaluates query set ``qs`` (see the module docstring)."""
    condition = CLEAN if qs.variant_set_id is None else variant_sets[qs.variant_set_id]
    return run.covers(qs.lang, condition, run.split)


def apply(conn: Connection, run: RewriteRun, qs: QuerySet) -> QuerySet:
    """``qs`` with each text replaced by its rewrite; one line if the rewrite run lacks any of them."""
    stored = rewrites.texts(conn, run.id, {item.query_id for item in qs.items})
    missing = [(item.query_id, vid) for item in qs.items for vid, _, _ in item.texts if (item.query_id, vid) not in stored]
    if missing:
        raise XlcliError(
            f"--rewrite {run.name}: {len(missing):,} {qs.lang} {qs.condition} texts have no rewrite (e.g. query "
            f"{missing[0][0]}, variant {missing[0][1]}); finish the rewrite run by re-running its `xlcli rewrite` command"
        )
    items = [QueryItem(item.query_id, item.ext_id, item.scope,
                       [(vid, idx, stored[(item.query_id, vid)]) for vid, idx, _ in item.texts]) for item in qs.items]
    return replace(qs, items=items)
