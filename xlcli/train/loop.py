"""The optimisation loop: AdamW, linear warm-up and decay, clipping, accumulation, bf16, resume.

Determinism is what makes a killed run resumable to the same weights: the batch of a step is a
function of (seed, step) (:mod:`xlcli.train.sampler`), every misspelling and negative choice of a
step is seeded from (seed, micro-batch, example), and the only stateful randomness left — dropout,
drawn from torch's generator — is saved with the optimizer and scheduler in every checkpoint and
restored on resume, as are Python's and numpy's generators.

Several GPUs (:mod:`xlcli.train.distributed`): under ``torchrun --nproc-per-node N`` the loop
wraps the model in DistributedDataParallel, gives each rank its own micro-batches, and lets rank 0
alone write checkpoints and the log. In-batch negatives are those of each rank's own batch.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlcli.datasets.parallel import ParallelSentence
from xlcli.seeding import derive_seed
from xlcli.train import checkpoints, losses, mixing, precision
from xlcli.train.batching import CALL_OVERHEAD, embed_grouped
from xlcli.train.config import TrainConfig
from xlcli.train.distributed import Distributed
from xlcli.train.pairs import Pair
from xlcli.train.sampler import Stream


@dataclass
class TrainData:
    pairs: list[Pair]
    parallel: list[ParallelSentence] = field(default_factory=list)
    # Hard negatives per pair index: (passage id, passage text), best first.
    negatives: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    mix: dict | None = None  # stratum (source, lang) → share (xlcli.train.mixing); None = by size
    translator: object = None  # xlcli.train.translate.WordTranslator, for --code-switch
    teacher: object = None  # a frozen Encoder scoring the English side of --xl-teaching (None = the student)


@dataclass
class StepLog:
    step: int  # completed optimizer steps, from 1
    losses: dict[str, float]
    lr: float


def total_steps(config: TrainConfig, n_pairs: int, world: int = 1, batch_size: int | None = None) -> int:
    if config.steps is not None:
        return config.steps
    per_step = (batch_size or config.batch_size) * config.grad_accum * world
    return max(1, math.ceil((config.epochs or 1.0) * n_pairs / per_step))


class Trainer:
    """Trains ``encoder`` (an :class:`xlcli.encoders.Encoder`, float32) on ``data``.

    ``on_step(StepLog)`` and ``on_checkpoint(step, folder, final)`` are called on rank 0 only.
    """

    def __init__(
        self,
        config: TrainConfig,
        encoder,
        data: TrainData,
        run_dir: Path,
        *,
        steps: int,
        batch_size: int | None = None,
        typos=None,
        dist_env: Distributed | None = None,
        on_step: Callable[[StepLog], None] | None = None,
        on_checkpoint: Callable[[int, Path, bool], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ):
        import torch

        self.torch = torch
        self.config, self.encoder, self.data = config, encoder, data
        self.run_dir, self.steps = Path(run_dir), steps
        self.batch_size = batch_size or config.batch_size
        self.typos = typos
        self.dist = dist_env or Distributed()
        self.on_step, self.on_checkpoint, self.on_start = on_step, on_checkpoint, on_start
        self.device = str(encoder.device)
        self.autocast_dtype = torch.bfloat16 if precision.resolve(config.precision, self.device) == "bf16" else None
        self.pair_stream = mixing.stream(data.pairs, data.mix, config.seed, salt=1)
        self.parallel_stream = (
            Stream([s.lang for s in data.parallel], config.seed, salt=2) if data.parallel and config.align_weight > 0 else None
        )
        self.call_overhead = CALL_OVERHEAD.get(self.device.split(":")[0], 64)
        self.query_prefix = encoder.config.query_prefix
        self.passage_prefix = encoder.config.passage_prefix

    # -- setup -----------------------------------------------------------------------------

    def _teacher(self):
        """A frozen copy of the starting model (Reimers & Gurevych 2020), made before any update."""
        from xlcli.encoders import Encoder

        if self.parallel_stream is None and not (self.config.align_pairs and self.config.align_weight > 0):
            return None
        model = copy.deepcopy(self.encoder.model).eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        teacher = Encoder(self.encoder.config, device="cpu", model=model, tokenizer=self.encoder.tokenizer)
        teacher.model = teacher.model.to(self.device)
        teacher.device = self.encoder.device
        return teacher

    def _optimizer(self, model):
        from transformers import get_linear_schedule_with_warmup

        torch = self.torch
        # The usual BERT recipe: no weight decay on biases and LayerNorm weights.
        decay, no_decay = [], []
        for _name, parameter in model.named_parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim < 2 else decay).append(parameter)
        groups = [{"params": decay, "weight_decay": self.config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        try:  # the fused kernel is several times faster than the per-tensor loop, on CPU too
            optimizer = torch.optim.AdamW(groups, lr=self.config.lr, fused=True)
        except (RuntimeError, TypeError):
            optimizer = torch.optim.AdamW(groups, lr=self.config.lr)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.config.warmup * self.steps), self.steps)
        return optimizer, scheduler

    def _seed(self) -> None:
        seed = self.config.seed + self.dist.rank  # each rank its own dropout masks
        random.seed(seed)
        np.random.seed(seed % 2**32)
        self.torch.manual_seed(seed)

    def _rng_state(self) -> dict:
        torch = self.torch
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _set_rng_state(self, state: dict) -> None:
        torch = self.torch
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    # -- one step ----------------------------------------------------------------------------

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return self.torch.autocast(self.device.split(":")[0], dtype=self.autocast_dtype)

    def _embed(self, encoder, texts: list[str]):
        return embed_grouped(encoder, texts, self.config.max_length, self.call_overhead)

    def _negatives(self, batch: list[Pair], indices: list[int], micro: int) -> list[tuple[int, str]]:
        """Up to ``negatives_per_query`` mined negatives per pair, drawn (seeded) from its list."""
        chosen: list[tuple[int, str]] = []
        k = self.config.negatives_per_query
        for j, index in enumerate(indices):
            pool = self.data.negatives.get(index) or []
            if len(pool) > k:
                rng = random.Random(derive_seed(self.config.seed, "negatives", micro, j))
                pool = rng.sample(pool, k)
            chosen.extend(pool)
        return chosen

    def _mask(self, batch: list[Pair], negatives: list[tuple[int, str]]):
        """True where a candidate must not count as a negative of a query: another pair of the
        same group, or any passage judged relevant to the query."""
        torch = self.torch
        candidates = [(p.passage_id, p.group) for p in batch] + [(pid, None) for pid, _ in negatives]
        mask = torch.zeros(len(batch), len(candidates), dtype=torch.bool)
        for i, pair in enumerate(batch):
            for j, (pid, group) in enumerate(candidates):
                if j != i and (pid in pair.positives or pid == pair.passage_id or group == pair.group):
                    mask[i, j] = True
        return mask.to(self.device)

    def _losses(self, student, teacher, micro: int) -> dict:
        config = self.config
        indices = self.pair_stream.batch(micro, self.batch_size)
        batch = [self.data.pairs[i] for i in indices]
        texts, english = self._code_switched(batch, micro)
        clean = [self.query_prefix + t for t in texts]
        variants = self.typos.variants(texts, [p.lang for p in batch], micro) if self.typos else [None] * len(batch)
        if not config.self_teaching:
            # Typo-aware training (Zhuang & Zuccon, EMNLP 2021): train on the variant instead.
            clean = [self.query_prefix + v if v is not None else q for q, v in zip(clean, variants)]
        negatives = self._negatives(batch, indices, micro)
        passages = [self.passage_prefix + p.positive for p in batch] + [self.passage_prefix + text for _, text in negatives]
        mask = self._mask(batch, negatives)

        out = {}
        with self._autocast():
            q = self._embed(student, clean)
            p = self._embed(student, passages)
            logits = losses.scores(q, p, config.temperature, mask)
            out["contrastive"] = losses.info_nce(logits)
            total = out["contrastive"]
            if config.self_teaching:
                typo_rows = [j for j, v in enumerate(variants) if v is not None]
                if typo_rows:
                    t = self._embed(student, [self.query_prefix + variants[j] for j in typo_rows])
                    typo_logits = losses.scores(t, p, config.temperature, mask[typo_rows])
                    out["self_teaching"] = losses.self_teaching_kl(logits[typo_rows], typo_logits)
                else:
                    out["self_teaching"] = logits.sum() * 0.0
                total = total + out["self_teaching"]
            if config.xl_teaching > 0:
                # The query a row is trained with: its misspelling under self-teaching, else q (already misspelled when typo-aware).
                student_logits = logits.clone()
                if config.self_teaching and typo_rows:
                    student_logits[typo_rows] = typo_logits
                out["xl_teaching"] = self._xl_teaching(student, batch, english, student_logits, p, passages, mask)
                total = total + config.xl_teaching * out["xl_teaching"]
            if config.typo_contrast > 0:
                out["typo_contrast"] = self._typo_contrast(student, batch, texts, q, micro)
                total = total + config.typo_contrast * out["typo_contrast"]
            if config.align_pairs and config.align_weight > 0:
                # Reimers & Gurevych on the batch's own translations: a translated (or lexicon-
                # generated) query is pulled onto the frozen teacher's embedding of its English side.
                rows = [j for j, p in enumerate(batch) if p.en_query is not None and p.lang != "en"
                        and (config.self_teaching or variants[j] is None)]
                if rows:
                    english_texts = [self.query_prefix + batch[j].en_query for j in rows]
                    english = self._embed(student, english_texts)
                    with self.torch.no_grad():
                        target = self._embed(teacher, english_texts)
                    out["align_pairs"] = losses.alignment_mse(q[rows], english, target)
                else:
                    out["align_pairs"] = q.sum() * 0.0
                total = total + config.align_weight * out["align_pairs"]
            if self.parallel_stream is not None:
                size = min(self.batch_size, self.parallel_stream.size)
                sentences = [self.data.parallel[i] for i in self.parallel_stream.batch(micro, size)]
                foreign = self._embed(student, [s.text for s in sentences])
                english = self._embed(student, [s.en_text for s in sentences])
                with self.torch.no_grad():
                    target = self._embed(teacher, [s.en_text for s in sentences])
                out["align"] = losses.alignment_mse(foreign, english, target)
                total = total + config.align_weight * out["align"]
        out["total"] = total
        return out

    def _code_switched(self, batch: list[Pair], micro: int) -> tuple[list[str], list[str | None]]:
        """The batch's query texts — English ones code-switched (CoSDA-ML, seeded per example) with
        probability ``code_switch_queries`` — and each row's English source (None if unknown)."""
        config, translator = self.config, self.data.translator
        texts, english = [], []
        for j, pair in enumerate(batch):
            text, source = pair.query, (pair.en_query if pair.lang != "en" else None)
            if config.code_switch > 0 and pair.lang == "en" and translator is not None:
                draw = random.Random(derive_seed(config.seed, "code-switch", micro, j))
                if draw.random() < config.code_switch_queries:
                    switched, n = translator.code_switch(pair.query, config.code_switch, draw.getrandbits(62))
                    if n:
                        text, source = switched, pair.query
            texts.append(text)
            english.append(source)
        return texts, english

    def _xl_teaching(self, student, batch, english, student_logits, p, passages, mask):
        """Cross-lingual self-teaching: KL(English scores, stopped ‖ the foreign query's) over the batch's passages."""
        rows = [j for j, source in enumerate(english) if source is not None]
        if not rows:
            return student_logits.sum() * 0.0
        teacher = self.data.teacher
        with self.torch.no_grad():
            if teacher is None:
                e = self._embed(student, [self.query_prefix + english[j] for j in rows])
                target = losses.scores(e, p.detach(), self.config.temperature, mask[rows])
            else:
                tq, tp = teacher.config.query_prefix, teacher.config.passage_prefix
                raw = [text[len(self.passage_prefix):] for text in passages]
                e = self._embed(teacher, [tq + english[j] for j in rows])
                target = losses.scores(e, self._embed(teacher, [tp + text for text in raw]), self.config.temperature, mask[rows])
        return losses.cross_lingual_kl(target, student_logits[rows])

    def _typo_contrast(self, student, batch, texts, q, micro):
        """Multi-positive typo contrast: each query with its misspelled variants as positives of one another."""
        torch = self.torch
        labels, extra = list(range(len(batch))), []
        for j, (pair, text) in enumerate(zip(batch, texts)):
            for variant in self.typos.several(text, pair.lang, micro, j, self.config.typo_positives):
                labels.append(j)
                extra.append(self.query_prefix + variant)
        if not extra:
            return q.sum() * 0.0
        embeddings = torch.cat([q, self._embed(student, extra)])
        label_tensor = torch.tensor(labels, device=embeddings.device)
        groups = [batch[j].group for j in labels]
        # Two languages of one question are not each other's negatives (nor positives).
        exclude = torch.tensor([[a == b for b in groups] for a in groups], device=embeddings.device)
        return losses.multi_positive_contrast(embeddings, label_tensor, self.config.temperature, exclude)

    def _step(self, model, student, teacher, optimizer, scheduler, step: int) -> dict[str, float]:
        torch, config = self.torch, self.config
        sums: dict[str, float] = {}
        for a in range(config.grad_accum):
            micro = (step * config.grad_accum + a) * self.dist.world + self.dist.rank
            sync = nullcontext() if self.dist.world == 1 or a == config.grad_accum - 1 else model.no_sync()
            with sync:
                out = self._losses(student, teacher, micro)
                (out["total"] / config.grad_accum).backward()
            for name, value in out.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) / config.grad_accum
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return self.dist.mean(sums)

    # -- checkpoints -----------------------------------------------------------------------

    def _save(self, student, optimizer, scheduler, step: int) -> None:
        states = self.dist.gather(self._rng_state())
        if self.dist.main:
            state = {
                "step": step, "total_steps": self.steps, "key": self.config.key, "world_size": self.dist.world,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": states,
            }
            meta = {"run": self.config.name, "key": self.config.key, "base": self.config.base, "total_steps": self.steps}
            folder = checkpoints.save(self.run_dir, step, student, self.encoder.tokenizer, self.encoder.config, self.encoder.dim,
                                      trainer_state=state, meta=meta)
            checkpoints.drop_older_states(self.run_dir, step)
            if self.on_checkpoint is not None:
                self.on_checkpoint(step, folder, step == self.steps)
        self.dist.barrier()

    def _resume(self, student, optimizer, scheduler) -> int:
        from xlcli.errors import XlcliError

        found = checkpoints.latest_resumable(self.run_dir)
        if found is None:
            return 0
        step, folder = found
        state = checkpoints.load_state(folder)
        if state.get("key") != self.config.key or state.get("total_steps") != self.steps:
            raise XlcliError(
                f"{self.run_dir} holds checkpoints of a run with other parameters; remove the folder or use another --name"
            )
        checkpoints.load_weights_into(student, folder)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng_states = state["rng"]
        if len(rng_states) == self.dist.world:
            self._set_rng_state(rng_states[self.dist.rank])
        else:  # another number of processes: the data order is the same, dropout masks are not
            self.torch.manual_seed(derive_seed(self.config.seed, "resume", step, self.dist.rank))
        return step

    # -- run -------------------------------------------------------------------------------

    def run(self) -> int:
        """Train to ``steps`` (resuming from the newest checkpoint); return the step it started at."""
        student = self.encoder.model
        for name, parameter in student.named_parameters():
            # The HF pooler head is not part of the embedding (pooling reads last_hidden_state);
            # left trainable it gets no gradient, which DDP rejects as an unused parameter.
            if name.startswith("pooler."):
                parameter.requires_grad_(False)
        teacher = self._teacher()  # before resuming: the teacher is the *starting* model
        student.train()
        model = student
        optimizer, scheduler = self._optimizer(student)
        self._seed()
        start = self._resume(student, optimizer, scheduler)
        model = self.dist.wrap(student, self.device)
        if self.on_start is not None and self.dist.main:
            self.on_start(start)
        self.encoder.model = model  # Encoder.embed runs the (possibly DDP-wrapped) model
        try:
            for step in range(start, self.steps):
                values = self._step(model, self.encoder, teacher, optimizer, scheduler, step)
                done = step + 1
                if self.on_step is not None and self.dist.main:
                    self.on_step(StepLog(done, values, scheduler.get_last_lr()[0]))
                if done % self.config.save_every == 0 or done == self.steps:
                    self._save(student, optimizer, scheduler, done)
        finally:
            self.encoder.model = student
        student.eval()
        return start
