"""Shared fixtures: the real CLI on a temporary store, a small LoCoMo file, a tiny BERT encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xlcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def small_locomo() -> list[dict]:
    """Two conversations in LoCoMo's schema, with every evidence quirk of the real file."""

    def session(n: int, speakers: tuple[str, str], lines: list[str], images: dict[int, str] | None = None) -> list[dict]:
        turns = []
        for i, line in enumerate(lines, start=1):
            turn = {"speaker": speakers[(i - 1) % 2], "dia_id": f"D{n}:{i}", "text": line}
            if images and i in images:
                turn.update({"img_url": [f"https://example.org/{n}-{i}.jpg"], "blip_caption": images[i], "query": "photo"})
            turns.append(turn)
        return turns

    a = ("Jolene", "Marcus")
    conv_a = {
        "sample_id": "conv-a",
        "conversation": {
            "speaker_a": a[0], "speaker_b": a[1],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": session(1, a, [
                "Hi Marcus! I adopted a beagle puppy called Pepper last weekend.",
                "That's wonderful, Jolene! I started restoring an old motorbike in my garage.",
                "Pepper already chewed my cello case, can you believe it?",
                "Ha! My daughter Lily wants to ride the motorbike when it's done.",
            ], images={1: "a photo of a beagle puppy on a sofa"}),
            "session_2_date_time": "10:15 am on 20 June, 2023",
            "session_2": session(2, a, [
                "I ran my first half marathon in Portland on Sunday!",
                "Congratulations! I'm planning a trip to Lisbon in August.",
                "Lisbon sounds lovely. Will you take Lily?",
                "Yes, and we'll visit the chemistry museum there.",
                "I played the cello at the hospital charity concert too.",
            ]),
            "session_3_date_time": "7:00 pm on 2 September, 2023",
        },
        "observation": {
            "session_1_observation": {"Jolene": [["Jolene adopted a beagle named Pepper.", "D1:1"]],
                                      "Marcus": [["Marcus restores an old motorbike.", "D1:2"]]},
            "session_2_observation": {"Jolene": [["Jolene ran a half marathon in Portland.", "D2:1"]],
                                      "Marcus": [["Marcus plans a trip to Lisbon.", "D2:2"]]},
        },
        "session_summary": {"session_1_summary": "Jolene adopted Pepper; Marcus restores a motorbike.",
                            "session_2_summary": "Jolene ran a half marathon; Marcus plans Lisbon."},
        "event_summary": {},
        "qa": [
            {"question": "What is the name of Jolene's dog?", "answer": "Pepper", "evidence": ["D1:1"], "category": 4},
            {"question": "When did Jolene run a half marathon?", "answer": "The Sunday before 20 June 2023", "evidence": ["D2:01"], "category": 2},
            {"question": "What does Marcus restore and who wants to ride it?", "answer": "A motorbike; Lily", "evidence": ["D1:2; D1:4"], "category": 1},
            {"question": "Where is Marcus travelling in August?", "answer": "Lisbon", "evidence": ["D:2:2", "D"], "category": 4},
            {"question": "Would Jolene enjoy a classical concert?", "answer": "Likely yes", "evidence": [], "category": 3},
            {"question": "What did Marcus play at the charity concert?", "evidence": ["D2:5 D2:9"], "category": 5, "adversarial_answer": "cello"},
        ],
    }
    b = ("Priya", "Tomás")
    conv_b = {
        "sample_id": "conv-b",
        "conversation": {
            "speaker_a": b[0], "speaker_b": b[1],
            "session_1_date_time": "9:00 am on 3 March, 2023",
            "session_1": session(1, b, [
                "My cat Mango knocked over my watercolours again.",
                "I bought a food truck! We open at the harbour in April.",
                "A food truck, amazing. What will you cook?",
                "Tacos and paella, my sister in Madrid sent her recipe.",
            ]),
            "session_2_date_time": "6:30 pm on 14 April, 2023",
            "session_2": session(2, b, [
                "I finished a night shift at the clinic and painted the sunrise.",
                "The food truck opened yesterday and we sold out of tacos.",
                "I went climbing at the gym on Tuesday.",
            ], images={3: "a photo of a climbing wall"}),
        },
        "observation": {},
        "session_summary": {},
        "event_summary": {},
        "qa": [
            {"question": "What is the name of Priya's cat?", "answer": "Mango", "evidence": ["D1:1"], "category": 4},
            {"question": "What does Tomás sell from his food truck?", "answer": "Tacos", "evidence": ["D1:4", "D2:2"], "category": 1},
            {"question": "Where does Tomás's sister live?", "answer": "Madrid", "evidence": ["D1:4"], "category": 4},
            {"question": "When did the food truck open?", "answer": "13 April 2023", "evidence": ["D2:2"], "category": 2},
        ],
    }
    return [conv_a, conv_b]


SMALL_TRANSLATIONS = [
    {"query_id": "conv-a/q0", "lang": "es", "text": "¿Cómo se llama el perro de Jolene?"},
    {"query_id": "conv-a/q0", "lang": "de", "text": "Wie heißt Jolenes Hund?"},
    {"query_id": "conv-a/q0", "lang": "ru", "text": "Как зовут собаку Джолин?"},
    {"query_id": "conv-a/q3", "lang": "fr", "text": "Où Marcus voyage-t-il en août ?"},
    {"query_id": "conv-b/q0", "lang": "es", "text": "¿Cómo se llama la gata de Priya?"},
    {"query_id": "conv-b/q2", "lang": "de", "text": "Wo wohnt die Schwester von Tomás?"},
]


@pytest.fixture
def small_locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "small_locomo.json"
    path.write_text(json.dumps(small_locomo(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def small_translations_file(tmp_path: Path) -> Path:
    path = tmp_path / "small_translations.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in SMALL_TRANSLATIONS), encoding="utf-8")
    return path


class Cli:
    """Runs the real Typer app against one store; ``cli("ingest", ...)`` returns the Click result."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, input: str | None = None):
        result = self.runner.invoke(app, ["--db", str(self.db), *map(str, args)], input=input, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"xlcli {' '.join(map(str, args))} exited {result.exit_code}:\n{result.output}")
        return result


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def cli(db: Path) -> Cli:
    return Cli(db)


@pytest.fixture
def small_store(cli: Cli, small_locomo_file: Path, small_translations_file: Path) -> Cli:
    """A store with the small LoCoMo (conv-b held out for test) and its translations."""
    cli("ingest", "locomo", small_locomo_file, "--name", "small", "--test-conversations", "conv-b")
    cli("ingest", "translations", small_translations_file)
    return cli


def train_tiny_tokenizer(texts: list[str], directory: Path, vocab_size: int = 400):
    """A BERT WordPiece tokenizer trained in memory on ``texts`` and saved to ``directory``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    fast.save_pretrained(directory)
    return fast


def make_tiny_bert(directory: Path, texts: list[str], *, seed: int = 0, hidden: int = 32) -> Path:
    """A randomly initialised 2-layer BERT with a tokenizer trained on ``texts``, saved as a HF model."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = train_tiny_tokenizer(texts, directory)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(directory)
    return directory


def corpus_texts() -> list[str]:
    texts = []
    for sample in small_locomo():
        for _key, value in sample["conversation"].items():
            if isinstance(value, list):
                texts.extend(t["text"] for t in value)
        texts.extend(q["question"] for q in sample["qa"])
    texts.extend(t["text"] for t in SMALL_TRANSLATIONS)
    return texts


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Path of a tiny BERT encoder (built once per test session; copy it before changing it)."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), corpus_texts())


@pytest.fixture
def fixture_locomo() -> Path:
    path = FIXTURES / "locomo" / "locomo_fixture.json"
    if not path.exists():
        pytest.skip("the bundled LoCoMo fixture is not built yet")
    return path
