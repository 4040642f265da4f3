"""Extension points: a typo protocol or a training-pair source is one registry entry, and every
reader of the registry (validation, dispatch, skip reasons, errors, help) picks a new entry up."""

from __future__ import annotations

import json
from functools import partial

import pytest
from sqlalchemy import text

from xlcli.errors import XlcliError
from xlcli.perturb import protocols as P
from xlcli.perturb import tables
from xlcli.store import open_store
from xlcli.train import sources as S
from xlcli.train.pairs import build


@pytest.fixture
def transpose_only(monkeypatch):
    """A new protocol: one neighbour swap per variant, in words of 5+ letters only."""
    protocol = P.Protocol(
        "swap", "one neighbour swap in a long word",
        partial(P._multi, allowed=("transpose",), weights=None, words=P._mixed_words),
        "no word to swap letters in",
        skip=lambda q: None if any(len(q.words[i][2]) >= 5 for i in q.char_ok) else "no word of 5+ letters",
        max_edits=1, label=lambda spec: f"swap-{spec.variants}",
    )
    monkeypatch.setitem(P.REGISTRY, "swap", protocol)
    return protocol


def test_a_registered_protocol_is_validated_run_skipped_and_described(transpose_only):
    spec = P.Spec.make("swap", variants=4)
    assert (spec.max_edits, spec.rate, spec.default_name()) == (1, None, "swap-4")
    with pytest.raises(XlcliError, match="--rate applies to the rate and diacritics protocols, not swap"):
        P.Spec.make("swap", rate=0.2)
    out = P.perturb("When did Melanie paint a sunrise?", tables.get("en"), spec, 3)
    assert len(out.variants) == 4 and all(len(v.ops) == 1 and v.ops[0].op == "transpose" for v in out.variants)
    assert P.perturb("Did she run?", tables.get("en"), spec, 3).skip == "no word of 5+ letters"
    assert "swap (one neighbour swap in a long word)" in P.protocols_help()
    assert P.option_help("max_edits", "most words") == "rate/diacritics/mixed/swap: most words (default 1, 2)."
    with pytest.raises(XlcliError, match="choose one of ielab, rate, diacritics, mixed, swap"):
        P.Spec.make("nope")


def test_a_registered_protocol_works_from_the_command_line(cli, transpose_only):
    result = cli("perturb", "--preview", "When did Melanie paint a sunrise?", "--lang", "en", "--protocol", "swap",
                 "--variants", "3", "--seed", "2", "--json")
    data = json.loads(result.stdout)
    assert data["protocol"] == "swap" and len(data["variants"]) == 3
    assert all(op["op"] == "transpose" for v in data["variants"] for op in v["operations"])


@pytest.fixture
def passage_echo(monkeypatch):
    """A new pair source: each passage with its own first four words as the query."""

    def echo(ctx: S.SourceContext, source: S.PairSource) -> list[S.Pair]:
        rows = ctx.conn.execute(text("SELECT id, lang, text, scope FROM passages WHERE dataset_id = :d ORDER BY id"),
                                {"d": ctx.dataset["id"]}).all()
        return [S.Pair(query=" ".join(r.text.split()[:4]), lang=r.lang, positive=r.text, passage_id=r.id, group=f"e:{r.id}",
                       source=f"echo:{r.lang}", positives=frozenset({r.id}), scope=r.scope)
                for r in rows if r.lang in source.langs]

    kind = S.PairSourceKind("echo", "passages with their first words", "the passages' languages", echo,
                            lambda ctx, source, lang: f"dataset {ctx.dataset['name']!r} has no {lang} passages", example="en")
    monkeypatch.setitem(S.PAIR_SOURCES, "echo", kind)
    return kind


def test_a_registered_pair_source_is_parsed_built_guarded_and_described(small_store, db, passage_echo):
    assert S.parse_pair_sources("echo:en,queries:en") == (S.PairSource("echo", ("en",)), S.PairSource("queries", ("en",)))
    with pytest.raises(XlcliError, match="only generated sources name a run"):
        S.parse_pair_sources("echo@x:en")
    assert "echo:LANGS — passages with their first words (LANGS: the passages' languages)" in S.pairs_help()
    with open_store(db) as store, store.read() as conn:
        dataset = dict(conn.execute(text("SELECT * FROM datasets WHERE name = 'small'")).mappings().one())
        passages = conn.execute(text("SELECT COUNT(*), SUM(scope = 'conv-b') FROM passages WHERE dataset_id = :d"),
                                {"d": dataset["id"]}).one()
        built = build(conn, dataset, S.parse_pair_sources("echo:en"))
        with pytest.raises(XlcliError, match="--pairs echo:de: dataset 'small' has no de passages"):
            build(conn, dataset, S.parse_pair_sources("echo:de"))
    # the leakage guard applies to the new source too: conv-b (the test conversation) is held out
    assert built.counts == {"echo:en": passages[0] - passages[1]} and passages[1] > 0
    assert built.leaks == {"passage of an evaluation scope": passages[1]}
    assert {p.scope for p in built.pairs} == {"conv-a"}
