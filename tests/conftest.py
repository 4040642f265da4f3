"""The test kit: the real CLI on a temporary store, a small LoCoMo file, builders (BEIR folders,
tiny BERT/T5 models), store assertions (:func:`rows`, :func:`snapshot`), the committed fixtures
(missing ones fail, not skip) and ``fake_model``, a torch-free deterministic encoder registered as
an encoder backend (``--model fake:64``) for tests about something other than encoding."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from xlcli.cli import app
from xlcli.encoders import BACKENDS, Backend, EncoderConfig
from xlcli.errors import XlcliError
from xlcli.store import open_store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def committed_fixture(relative: str) -> Path:
    """A file or folder under fixtures/ that the repository ships: missing is a failure (a packaging
    or checkout bug), never a skip."""
    path = FIXTURES / relative
    if not path.exists():
        pytest.fail(f"committed fixture fixtures/{relative} is missing", pytrace=False)
    return path


# --- the store -------------------------------------------------------------------------------

def rows(db: Path, sql: str, **params) -> list:
    """The rows of one query on the store (SQLAlchemy rows: equal to tuples, columns as attributes)."""
    with open_store(db, write=False) as store, store.read() as conn:
        return conn.execute(text(sql), params).all()


def generated_queries(db: Path, run: str | None = None) -> list[tuple]:
    """(passage ext id, lang, idx, text) of every generated query (of one generator run), sorted."""
    sql = ("SELECT p.ext_id, q.lang, q.idx, q.text FROM generated_queries q JOIN passages p ON p.id = q.passage_id"
           " JOIN generator_runs g ON g.id = q.generator_run_id")
    if run:
        sql += " WHERE g.name = :run"
    return sorted(tuple(r) for r in rows(db, sql + " ORDER BY 1, 2, 3", run=run))


_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDECARS = ("-wal", "-shm", "-journal")


def snapshot(db: Path) -> dict:
    """Everything the store holds, so that "the store is unchanged" means two snapshots are equal.

    For an SQLite file: the schema (``sqlite_master``), the header's ``user_version`` and
    ``application_id``, and every row of every table with its rowid, in rowid order (all columns
    for WITHOUT ROWID tables) — it sees an UPDATE or a delete-and-reinsert, not only counts; rows,
    not bytes, because a WAL checkpoint may rewrite the file legitimately. Virtual tables (vec0,
    FTS5) are left out on purpose and their shadow tables kept: the shadow tables are where those
    modules store every byte (vector chunks, row ids, the FTS index), so a changed vector or
    document shows there, while reading the virtual table would only read them again.

    Any other path (missing, a folder, empty, not SQLite, damaged, one SQLite cannot open) is compared by
    existence and bytes (a folder by its listing), with which of its ``-wal``/``-shm``/``-journal``
    files exist. It reads with plain sqlite3, read-only, never through xlcli's own code.
    """
    db = Path(db)
    try:
        return _rows(db) if db.is_file() and db.read_bytes().startswith(_SQLITE_HEADER) else _as_path(db)
    except sqlite3.DatabaseError:  # damaged, or a WAL store whose folder cannot be written: compare what can be
        return _as_path(db)


def _rows(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        found = {"sqlite_master": schema,  # "sqlite_" names are reserved: no table can take these keys
                 "sqlite_header": [(conn.execute("PRAGMA user_version").fetchone()[0],
                                    conn.execute("PRAGMA application_id").fetchone()[0])]}
        for kind, name, _, sql in schema:
            if kind != "table" or (sql or "").upper().startswith("CREATE VIRTUAL TABLE"):
                continue
            if re.search(r"WITHOUT\s+ROWID", sql or "", re.IGNORECASE):
                width = len(conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description)
                query = f'SELECT * FROM "{name}" ORDER BY {", ".join(str(i) for i in range(1, width + 1))}'
            else:
                query = f'SELECT rowid, * FROM "{name}" ORDER BY rowid'
            found[name] = conn.execute(query).fetchall()
        return found
    finally:
        conn.close()


def _as_path(path: Path) -> dict:
    sidecars = [s for s in _SIDECARS if Path(f"{path}{s}").exists()]
    if path.is_dir():
        return {"directory": sorted(p.name for p in path.iterdir()), "sidecars": sidecars}
    if not path.exists():
        return {"exists": False, "sidecars": sidecars}
    return {"bytes": path.read_bytes() if path.is_file() else None, "sidecars": sidecars}


def copy_store(source: Path, target: Path) -> Path:
    """A consistent copy of the store at ``target`` (SQLite's backup API: whatever still sits in
    the source's WAL is in the copy, which is one self-contained file)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return Path(target)


@dataclass
class Outcome:
    """What a command did, for :func:`assert_refused`, when it ran in a subprocess (a Click result
    has the same three attributes)."""

    exit_code: int
    stdout: str
    stderr: str

    @classmethod
    def of(cls, process: subprocess.CompletedProcess) -> Outcome:
        return cls(process.returncode, process.stdout, process.stderr)


def assert_refused(result, db: Path, before: dict, expect: str | None = None, *, quiet: bool = True) -> str:
    """The promise for a user's mistake: exit code 2, exactly one non-empty stderr line and it is
    ``Error: ...`` (saying ``expect``), no traceback anywhere, the store's :func:`snapshot` equal
    to ``before`` and — unless ``quiet=False``, for a pipeline that reports the step it started —
    nothing on stdout. ``result`` is a Click result or an :class:`Outcome`; returns the error line."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), f"stderr should be one Error: line, got:\n{result.stderr}"
    assert expect is None or expect in lines[0], f"expected {expect!r} in: {lines[0]}"
    assert result.exit_code == 2, f"exit code {result.exit_code}: {lines[0]}"
    assert not quiet or not result.stdout.strip(), f"a refusal printed to stdout:\n{result.stdout}"
    after = snapshot(db)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the store changed ({', '.join(changed)}) although the command was refused: {lines[0]}"
    return lines[0]


def beir_folder(root: Path, docs: dict[str, str | tuple[str, str]], queries: dict[str, str],
                qrels: Sequence[tuple[str, str, int]] | None = None) -> Path:
    """A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) at ``root``.

    ``docs`` maps an id to its text or to (title, text); ``qrels`` lists (query, doc, grade), by
    default every query judged relevant (1) to the first document.
    """
    (root / "qrels").mkdir(parents=True)
    corpus = [{"_id": d, "title": t[0], "text": t[1]} if isinstance(t, tuple) else {"_id": d, "title": "", "text": t}
              for d, t in docs.items()]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n" for q, t in queries.items()), encoding="utf-8")
    if qrels is None:
        first = next(iter(docs))
        qrels = [(q, first, 1) for q in queries]
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in qrels))
    return root


# --- a torch-free encoder --------------------------------------------------------------------

@functools.cache
def _direction(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dim)


class FakeEncoder:
    """A deterministic bag-of-words encoder without torch: each lower-cased word has a fixed random
    direction (seeded by its BLAKE2b hash), a text is their sum over its first ``max_length`` words,
    normalised when the model is. Equal texts get equal vectors and shared words similar ones, so
    retrieval works a little; its numbers mean nothing. ``--model fake:<dim>``."""

    def __init__(self, config: EncoderConfig, device: str = "cpu"):
        if not config.path.isdigit() or int(config.path) < 1:
            raise XlcliError(f"model fake:{config.path}: give the dimension, e.g. fake:16")
        self.config, self.dim = config, int(config.path)

    def encode(self, texts: Sequence[str], *, prefix: str = "", batch_size: int = 64, max_length: int | None = None,
               on_batch=None) -> np.ndarray:
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"\w+", (prefix + t).lower())[: max_length or self.config.max_length]
            vector = np.sum([_direction(w, self.dim) for w in words], axis=0) if words else np.zeros(self.dim)
            norm = np.linalg.norm(vector)
            result[i] = vector / norm if self.config.normalize and norm > 0 else vector
        for start in range(0, len(texts), batch_size):
            if on_batch is not None:
                on_batch(min(batch_size, len(texts) - start))
        return result

    def encode_queries(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prefix=self.config.query_prefix, **kwargs)

    def encode_passages(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prefix=self.config.passage_prefix, **kwargs)


FAKE_MODEL = "fake:64"


@pytest.fixture
def fake_model(monkeypatch) -> str:
    """``--model`` spec of the fake encoder, registered as the encoder backend ``fake`` for this test."""
    monkeypatch.setitem(BACKENDS, "fake", Backend(FakeEncoder))
    return FAKE_MODEL


def load_encoder(db: Path, model: str):
    """The encoder ``--model model`` names in this store, with the settings its index used."""
    from xlcli.models import resolve_model

    with open_store(db, write=False) as store:
        return resolve_model(store, model)[1].load("cpu")


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


def write_small_locomo(path: Path) -> Path:
    path.write_text(json.dumps(small_locomo(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_small_translations(path: Path) -> Path:
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in SMALL_TRANSLATIONS), encoding="utf-8")
    return path


@pytest.fixture
def small_locomo_file(tmp_path: Path) -> Path:
    return write_small_locomo(tmp_path / "small_locomo.json")


@pytest.fixture
def small_translations_file(tmp_path: Path) -> Path:
    return write_small_translations(tmp_path / "small_translations.jsonl")


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


def ingest_small(cli: Cli) -> None:
    """The small LoCoMo as dataset 'small' (conv-b held out for test) and its translations, their
    files written beside the store."""
    folder = cli.db.parent
    cli("ingest", "locomo", write_small_locomo(folder / "small_locomo.json"), "--name", "small", "--test-conversations", "conv-b")
    cli("ingest", "translations", write_small_translations(folder / "small_translations.jsonl"))


def ingest_fixture(name: str, *options: str) -> Callable[[Cli], None]:
    """Ingests the committed LoCoMo fixture as dataset ``name`` (``options`` go to ingest locomo) and its translations."""
    def ingest(cli: Cli) -> None:
        cli("ingest", "locomo", committed_fixture("locomo/locomo_fixture.json"), "--name", name, *options)
        cli("ingest", "translations", committed_fixture("locomo/translations.jsonl"), "--dataset", name)
    return ingest


def build_store(db: Path, ingest: Callable[[Cli], None], *steps: Sequence) -> Cli:
    """A store at ``db``: ``ingest`` (:func:`ingest_small` or :func:`ingest_fixture`) then each step's
    arguments run by the real CLI. Module fixtures build one and hand each test a :func:`copy_store`."""
    db.parent.mkdir(parents=True, exist_ok=True)
    cli = Cli(db)
    ingest(cli)
    for step in steps:
        cli(*step)
    return cli


@pytest.fixture
def small_store(db: Path) -> Cli:
    """A store with the small LoCoMo (conv-b held out for test) and its translations."""
    return build_store(db, ingest_small)


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


LANG_WORDS = ["Generate", "question:", "Spanish", "German", "French", "Russian", "Arabic"]


def make_tiny_t5(directory: Path, *, seed: int = 0) -> Path:
    """A 2-layer T5 with random weights and a word-level tokenizer trained in memory."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator([*corpus_texts(), " ".join(LANG_WORDS)],
                                  trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    config = T5Config(vocab_size=len(fast), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2,
                      num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    torch.manual_seed(seed)
    T5ForConditionalGeneration(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Path of a tiny BERT encoder (built once per test session; copy it before changing it)."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), corpus_texts())


@pytest.fixture
def fixture_locomo() -> Path:
    """The committed LoCoMo fixture (its translations.jsonl lies beside it)."""
    committed_fixture("locomo/translations.jsonl")
    return committed_fixture("locomo/locomo_fixture.json")


@pytest.fixture
def lexicons() -> Path:
    """fixtures/lexicon: the committed en-{de,es,fr,ru}.txt word lists."""
    for lang in ("de", "es", "fr", "ru"):
        committed_fixture(f"lexicon/en-{lang}.txt")
    return committed_fixture("lexicon")
