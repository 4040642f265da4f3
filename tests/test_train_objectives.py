"""train, issue 13: the cross-lingual objectives as units — KL, multi-positive contrast, code-switching,
word-by-word translation, mixing weights and the options' validation."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import torch

from xlcli.errors import XlcliError
from xlcli.generate.lexicon import Lexicon
from xlcli.train import losses
from xlcli.train.config import TrainConfig
from xlcli.train.mixing import MixedStream, shares
from xlcli.train.sources import Pair, PairSource, parse_pair_sources
from xlcli.train.translate import WordTranslator, parse_lexicons

PASSAGES = ["Hi Marcus! I adopted a beagle puppy called Pepper last weekend.", "That's wonderful, Jolene! Pepper is a dog.",
            "Jolene ran in Portland.", "the dog ran home", "when is the concert"]


def lexicon(entries: dict[str, list[str]]) -> Lexicon:
    return Lexicon(path=None, entries=entries, sha256="0" * 64, pairs=sum(map(len, entries.values())))


@pytest.fixture
def translator() -> WordTranslator:
    es = {"what": ["qué", "cuál"], "is": ["es"], "the": ["el"], "name": ["nombre"], "of": ["de"], "dog": ["perro"],
          "jolene": ["jolena"], "when": ["cuándo"], "did": ["hizo"], "run": ["correr"], "marathon": ["maratón"], "pepper": ["pimienta"]}
    de = {"what": ["was"], "is": ["ist"], "the": ["der"], "name": ["Name"], "of": ["von"], "dog": ["Hund"], "when": ["wann"]}
    return WordTranslator({"es": lexicon(es), "de": lexicon(de)}, PASSAGES)


# --------------------------------------------------------------------------- cross-lingual self-teaching


def test_cross_lingual_kl_is_zero_for_identical_queries_and_positive_otherwise():
    torch.manual_seed(0)
    passages = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    english = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    same = losses.cross_lingual_kl(losses.scores(english, passages, 0.05), losses.scores(english.clone(), passages, 0.05))
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    foreign = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1).requires_grad_(True)
    english = english.clone().requires_grad_(True)
    kl = losses.cross_lingual_kl(losses.scores(english, passages, 0.05), losses.scores(foreign, passages, 0.05))
    assert float(kl.detach()) > 0.01
    kl.backward()
    assert english.grad is None or float(english.grad.abs().sum()) == 0.0  # the English side is a fixed target
    assert float(foreign.grad.abs().sum()) > 0.0


# --------------------------------------------------------------------------- multi-positive typo contrast


def test_multi_positive_contrast_is_lower_when_variants_embed_close_to_their_query():
    torch.manual_seed(1)
    queries = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    labels = torch.tensor([0, 1, 2, 3, 0, 0, 1, 1, 2, 2, 3, 3])
    close = torch.nn.functional.normalize(queries[labels[4:]] + 0.05 * torch.randn(8, 16), dim=-1)
    far = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    near_loss = losses.multi_positive_contrast(torch.cat([queries, close]), labels, 0.1)
    far_loss = losses.multi_positive_contrast(torch.cat([queries, far]), labels, 0.1)
    assert float(near_loss) < float(far_loss) - 1.0


def test_multi_positive_contrast_matches_the_supcon_definition_and_honours_exclusions():
    e = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]]), dim=-1)
    labels = torch.tensor([0, 0, 1, 1])
    s = e @ e.T / 0.5
    expected = 0.0
    for a, p in ((0, 1), (1, 0), (2, 3), (3, 2)):
        others = [x for x in range(4) if x != a]
        expected += -(s[a, p] - torch.logsumexp(s[a, others], dim=0))
    assert float(losses.multi_positive_contrast(e, labels, 0.5)) == pytest.approx(float(expected) / 4, rel=1e-5)
    # Excluding 0↔2 and 1↔3 (say, two languages of one question) removes them from the denominators.
    exclude = torch.tensor([[False, False, True, False], [False, False, False, True], [True, False, False, False], [False, True, False, False]])
    expected = 0.0
    for a, p in ((0, 1), (1, 0), (2, 3), (3, 2)):
        others = [x for x in range(4) if x != a and not exclude[a, x]]
        expected += -(s[a, p] - torch.logsumexp(s[a, others], dim=0))
    assert float(losses.multi_positive_contrast(e, labels, 0.5, exclude)) == pytest.approx(float(expected) / 4, rel=1e-5)


# --------------------------------------------------------------------------- translation and code-switching


def test_translate_replaces_known_words_in_muse_order_and_keeps_names_numbers_and_unknown_words(translator):
    assert translator.translate("What is the name of Jolene's dog?", "es") == "qué es el nombre de Jolene's perro?"
    assert translator.translate("When did Jolene run 3 marathons?", "es") == "cuándo hizo Jolene correr 3 marathons?"
    assert translator.translate("What is the name of Jolene's dog?", "de") == "was ist der Name von Jolene's Hund?"


def test_code_switching_is_reproducible_and_changes_exactly_the_chosen_fraction_of_words(translator):
    text = "What is the name of the dog when Jolene did run the marathon?"
    words = text.split()
    switchable = len(translator.switchable(text))  # Jolene is a name: never switched
    assert switchable == 12
    for rate in (0.0, 0.3, 0.5, 0.9):
        first, n = translator.code_switch(text, rate, seed=42)
        assert (first, n) == translator.code_switch(text, rate, seed=42)
        assert n == round(rate * switchable)
        changed = [(a, b) for a, b in zip(words, first.split()) if a != b]
        assert len(first.split()) == len(words) and len(changed) == n
        assert "Jolene" in first
    outputs = {translator.code_switch(text, 0.5, seed=s)[0] for s in range(20)}
    assert len(outputs) > 5  # the seed chooses the words and the languages
    langs = Counter()
    for seed in range(50):
        switched = translator.code_switch(text, 0.5, seed=seed)[0].split()
        langs.update("es" if w in {"qué", "es", "el", "nombre", "de", "perro", "cuándo", "hizo", "correr", "maratón?"} else "de"
                     for a, w in zip(words, switched) if a != w)
    assert langs["es"] > 50 and langs["de"] > 50  # both target languages are drawn


def test_lexicon_options_parse_and_bad_ones_are_one_line_errors(tmp_path):
    assert parse_lexicons([f"es={tmp_path}/a.txt", f"de={tmp_path}/b.txt,fr={tmp_path}/c.txt"]) == (
        ("de", f"{tmp_path}/b.txt"), ("es", f"{tmp_path}/a.txt"), ("fr", f"{tmp_path}/c.txt"))
    for bad, message in ((["es"], "give LANG=PATH"), (["en=x.txt"], "translate English questions"),
                         (["es=a", "es=b"], "--lexicon es: given twice"), (["xx=a"], "xx")):
        with pytest.raises(XlcliError, match=re.escape(message)):
            parse_lexicons(bad)


# --------------------------------------------------------------------------- mixing weights


def test_pair_sources_take_mixing_weights_and_refuse_bad_ones():
    parsed = parse_pair_sources("queries:en@1,queries:es,de,fr,ru@1,generated:es,de,fr,ru@0.2")
    assert parsed == (PairSource("queries", ("en",), None, 1.0), PairSource("queries", ("es", "de", "fr", "ru"), None, 1.0),
                      PairSource("generated", ("es", "de", "fr", "ru"), None, 0.2))
    assert [s.spec for s in parsed] == ["queries:en@1", "queries:es,de,fr,ru@1", "generated:es,de,fr,ru@0.2"]
    assert parse_pair_sources("queries:en,translated:es") == (PairSource("queries", ("en",)), PairSource("translated", ("es",)))
    for bad, message in (("queries:en@0", "mixing weight > 0"), ("queries:en@-1", "mixing weight > 0"), ("queries:en@x", "mixing weight > 0"),
                         ("queries:en@inf", "mixing weight > 0"), ("queries:en@1,es", "a weight (@W) ends its source"),
                         ("queries:en,es@1,queries:es@2", "in two queries sources")):
        with pytest.raises(XlcliError, match=re.escape(message)):
            parse_pair_sources(bad)


def _pairs(spec: dict[tuple[str, str], int]) -> list[Pair]:
    return [Pair(f"q{i}", lang, "p", i, f"g{i}", source) for (source, lang), n in spec.items() for i in range(n)]


def test_mixing_shares_follow_the_weights_not_the_sizes_and_balance_languages():
    pairs = _pairs({("queries:en", "en"): 200, ("queries:es", "es"): 40, ("queries:de", "de"): 10, ("generated:es", "es"): 5000})
    sources = parse_pair_sources("queries:en@1,queries:es,de@1,generated:es@0.2")
    mix = shares(pairs, sources, 1.0, balance_langs=True)
    assert mix == {("queries:en", "en"): 1.0, ("queries:es", "es"): 0.5, ("queries:de", "de"): 0.5, ("generated:es", "es"): 0.2}
    by_size = shares(pairs, sources, 1.0, balance_langs=False)
    assert by_size[("queries:es", "es")] == pytest.approx(0.8) and by_size[("queries:de", "de")] == pytest.approx(0.2)
    assert shares(pairs, parse_pair_sources("queries:en,es,de,generated:es"), 1.0, True) is None  # no weights: by size
    # A source without a weight gets the default when others have one.
    assert shares(pairs, parse_pair_sources("queries:en,generated:es@0.5"), 1.0, True) == {("queries:en", "en"): 1.0, ("generated:es", "es"): 0.5}


def test_mixed_stream_realises_the_proportions_in_every_batch_and_is_a_function_of_the_step():
    pairs = _pairs({("queries:en", "en"): 200, ("queries:es", "es"): 40, ("queries:de", "de"): 10, ("generated:es", "es"): 5000})
    mix = shares(pairs, parse_pair_sources("queries:en@1,queries:es,de@1,generated:es@0.2"), 1.0, True)
    strata = [(p.source, p.lang) for p in pairs]
    stream = MixedStream(strata, mix, seed=3, salt=1)
    expected = {k: v / sum(mix.values()) for k, v in mix.items()}
    batches = [stream.batch(m, 32) for m in range(300)]
    total = Counter(strata[i] for batch in batches for i in batch)
    for stratum, share in expected.items():
        assert total[stratum] / (300 * 32) == pytest.approx(share, abs=0.002)
        for batch in batches:  # low discrepancy: each batch within 2 of its expected count
            assert abs(sum(strata[i] == stratum for i in batch) - 32 * share) <= 2
    assert stream.realised(300 * 32) == pytest.approx({k: total[k] / (300 * 32) for k in expected})
    # Small strata cycle through all their items before repeating one (epoch permutations).
    german = [i for batch in batches[:40] for i in batch if strata[i] == ("queries:de", "de")]
    assert len(german) >= 10 and len(set(german[:10])) == 10
    fresh = MixedStream(strata, mix, seed=3, salt=1)
    assert fresh.batch(250, 32) == batches[250]  # a resumed run draws the same batch, with no state
    assert MixedStream(strata, mix, seed=4, salt=1).batch(5, 32) != batches[5]


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"code_switch": 1.0}, "--code-switch 1: give the fraction of words to switch, in [0, 1)"),
        ({"code_switch": -0.1}, "--code-switch -0.1"),
        ({"code_switch": 0.3}, "--code-switch needs the dictionaries"),
        ({"code_switch_queries": 0.0, "code_switch": 0.3, "lexicons": (("es", "/x"),)}, "--code-switch-queries 0"),
        ({"xl_teaching": -1.0}, "--xl-teaching -1: give a weight >= 0"),
        ({"teacher": "default"}, "--teacher scores the English side of --xl-teaching"),
        ({"typo_contrast": -0.5}, "--typo-contrast -0.5"),
        ({"typo_positives": 0, "typo_contrast": 1.0}, "--typo-positives 0"),
        ({"pairs": (PairSource("translated", ("es", "de")),), "lexicons": (("es", "/x"),)},
         "--pairs translated:es,de: no --lexicon for German"),
    ],
)
def test_cross_lingual_options_are_checked(changes, message):
    with pytest.raises(XlcliError, match=re.escape(message)):
        TrainConfig(name="x", **changes).validated()


def test_new_options_at_their_defaults_leave_the_run_key_as_before():
    config = TrainConfig(name="x").validated()
    assert not set(TrainConfig.KEY_IF_SET) & set(config.key_params())
    switched = TrainConfig(name="x", code_switch=0.3, lexicons=(("es", "/x"),)).validated()
    assert switched.key != config.key and switched.key_params()["code_switch"] == 0.3
