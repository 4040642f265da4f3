"""train: the pieces — pair-source parsing, config checks, sampler, losses, parallel files, mask."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from xlcli.errors import XlcliError
from xlcli.train import losses
from xlcli.train.config import TrainConfig
from xlcli.train.sampler import Stream
from xlcli.train.sources import PairSource, parse_pair_sources

# -- --pairs -------------------------------------------------------------------------------


def test_pair_sources_parse_commas_bars_and_runs():
    assert parse_pair_sources("queries:en,es,de,generated:es,de") == (
        PairSource("queries", ("en", "es", "de")), PairSource("generated", ("es", "de")),
    )
    assert parse_pair_sources("queries:en|generated@lex:ru ; queries:fr") == (
        PairSource("queries", ("en", "fr")), PairSource("generated", ("ru",), "lex"),
    )
    assert parse_pair_sources("queries:EN,en").__getitem__(0).langs == ("en",)


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "give at least one source"),
        ("en,es", "start with a source"),
        ("passages:en", "unknown source 'passages'"),
        ("queries:xx", "unknown language code 'xx'"),
        ("queries@run:en", "only generated sources name a run"),
        ("queries:", "give its languages"),
    ],
)
def test_bad_pair_sources_are_one_line_errors(value, message):
    with pytest.raises(XlcliError, match=message):
        parse_pair_sources(value)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"typo_aware": 1.5}, "--typo-aware 1.5: give a probability between 0 and 1"),
        ({"typo_aware": -0.1}, "--typo-aware"),
        ({"epochs": 1.0, "steps": 3}, "either --epochs or --steps"),
        ({"batch_size": 1}, "at least 2"),
        ({"warmup": 1.0}, "--warmup"),
        ({"temperature": 0.0}, "--temperature"),
        ({"self_teaching": True, "typo_aware": 0.0}, "--self-teaching needs misspelled queries"),
        ({"typo_aware": 0.5, "typo_protocol": "nope"}, "--typo-protocol"),
        ({"name": "a/b"}, "--name"),
        ({"name": "a@b"}, "--name"),
    ],
)
def test_config_checks(changes, message):
    with pytest.raises(XlcliError, match=message):
        TrainConfig(**{"name": "run", **changes}).validated()


def test_config_key_ignores_device_and_save_every_only():
    base = TrainConfig(name="run").validated()
    assert TrainConfig(name="run", device="cpu", save_every=7).validated().key == base.key
    assert TrainConfig(name="run", seed=1).validated().key != base.key
    assert TrainConfig(name="run", lr=3e-5).validated().key != base.key
    assert base.epochs == 1.0  # neither --epochs nor --steps: one epoch


def test_config_fills_the_typo_rate_from_self_teaching():
    assert TrainConfig(name="run").validated().typo_aware == 0.0
    assert TrainConfig(name="run", self_teaching=True).validated().typo_aware == 0.5
    assert TrainConfig(name="run", self_teaching=True, typo_aware=0.3).validated().typo_aware == 0.3
    # the same key as the explicit value, so runs keyed before the default moved here still resume
    filled = TrainConfig(name="run", self_teaching=True).validated()
    assert filled.key == TrainConfig(name="run", self_teaching=True, typo_aware=0.5).validated().key


# -- sampler ---------------------------------------------------------------------------------


def test_stream_is_a_seeded_sequence_of_epoch_permutations():
    strata = ["en"] * 30 + ["es"] * 10
    stream = Stream(strata, seed=3)
    flat = [i for b in range(20) for i in stream.batch(b, 8)]  # 160 items = 4 epochs
    for epoch in range(4):
        assert sorted(flat[epoch * 40 : (epoch + 1) * 40]) == list(range(40))
    assert flat[:40] != flat[40:80]  # each epoch its own order
    # Any micro-batch is computed from its index alone (what resuming relies on)...
    assert Stream(strata, seed=3).batch(13, 8) == flat[13 * 8 : 14 * 8]
    # ...and batch size does not change the order, only how it is cut.
    assert [i for b in range(40) for i in Stream(strata, seed=3).batch(b, 4)] == flat
    assert Stream(strata, seed=4).batch(0, 40) != flat[:40]


def test_stream_puts_every_language_in_every_batch():
    # 10% Spanish: a plain shuffle leaves some batches of 8 without any; the stratified order does not.
    strata = ["en"] * 90 + ["es"] * 10
    for seed in range(20):
        stream = Stream(strata, seed=seed)
        for b in range(12):  # within one epoch
            batch = stream.batch(b, 10)
            assert Counter(strata[i] for i in batch)["es"] == 1
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(100) for _ in range(20)]
    assert any(sum(strata[i] == "es" for i in order[b * 10 : (b + 1) * 10]) == 0 for order in shuffled for b in range(10))


# -- losses -----------------------------------------------------------------------------------


def _manual_log_softmax(row: np.ndarray) -> np.ndarray:
    m = row.max()
    return row - m - math.log(np.exp(row - m).sum())


def test_info_nce_is_cross_entropy_of_the_diagonal_with_masked_columns_excluded():
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)  # 4 positives + 2 hard negatives
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[0, 2] = mask[3, 5] = True
    got = losses.info_nce(losses.scores(q, p, 0.05, mask)).item()
    logits = (q.numpy() @ p.numpy().T) / 0.05
    expected = []
    for i in range(4):
        keep = [j for j in range(6) if not mask[i, j]]
        row = logits[i, keep]
        expected.append(-_manual_log_softmax(row)[keep.index(i)])
    assert got == pytest.approx(float(np.mean(expected)), rel=1e-5)


def test_self_teaching_kl_matches_the_definition_and_stops_the_clean_gradient():
    torch.manual_seed(1)
    clean = torch.randn(3, 5, requires_grad=True)
    typo = torch.randn(3, 5, requires_grad=True)
    value = losses.self_teaching_kl(clean, typo)
    pc = np.exp([_manual_log_softmax(r) for r in clean.detach().numpy()])
    pt = np.exp([_manual_log_softmax(r) for r in typo.detach().numpy()])
    expected = float(np.mean(np.sum(pc * (np.log(pc) - np.log(pt)), axis=1)))
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert clean.grad is None and typo.grad is not None and typo.grad.abs().sum() > 0
    same = torch.randn(2, 4)
    assert losses.self_teaching_kl(same, same.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_self_teaching_kl_is_finite_with_masked_columns():
    clean, typo = torch.randn(2, 4), torch.randn(2, 4)
    mask = torch.tensor([[False, True, False, False], [True, False, False, False]])
    assert torch.isfinite(losses.self_teaching_kl(clean.masked_fill(mask, losses.MASKED), typo.masked_fill(mask, losses.MASKED)))


def test_alignment_mse_is_two_squared_errors_to_the_frozen_teacher():
    torch.manual_seed(2)
    foreign, english = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4)
    teacher = torch.randn(3, 4, requires_grad=True)
    value = losses.alignment_mse(foreign, english, teacher)
    d = foreign.shape[1]  # the paper's element-wise MSE, times the dimension
    expected = d * ((foreign - teacher) ** 2).mean() + d * ((english - teacher) ** 2).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert teacher.grad is None  # the teacher is frozen


# -- length-grouped forward passes -------------------------------------------------------------


def test_length_groups_minimise_padded_tokens_plus_call_overhead():
    from itertools import combinations

    from xlcli.train.batching import length_groups

    lengths = [5, 40, 6, 38, 7, 41, 12]
    for overhead in (0, 10, 64, 10**6):
        groups = length_groups(lengths, overhead)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))

        def cost(gs):
            return sum(len(g) * max(lengths[i] for i in g) + overhead for g in gs)

        # Brute force over every split of the length-sorted order.
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        best = min(
            cost([order[a:b] for a, b in zip((0, *cuts), (*cuts, len(order)))])
            for k in range(len(order)) for cuts in combinations(range(1, len(order)), k)
        )
        assert cost(groups) == best
    assert length_groups(lengths, 10**6) == [sorted(range(7), key=lambda i: (lengths[i], i))]
    assert length_groups([], 64) == []


def test_grouped_embeddings_equal_one_padded_batch(tiny_bert):
    from xlcli.encoders import Encoder
    from xlcli.train.batching import embed_grouped

    encoder = Encoder.load(str(tiny_bert), device="cpu")
    texts = ["Hi.", "I adopted a beagle puppy called Pepper last weekend and she chewed my cello case.", "Lisbon!",
             "We'll visit the chemistry museum there.", "Yes"]
    with torch.no_grad():
        plain = encoder.embed(encoder.tokenize(texts, 32))
        grouped = embed_grouped(encoder, texts, 32, overhead=0)
    assert torch.allclose(plain, grouped, atol=1e-6)
