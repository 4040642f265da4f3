"""A training run from parameters to registered checkpoints: :func:`prepare`, then :func:`execute`.

:func:`prepare` checks everything the user gave — parameters, dataset, split, pair sources,
parallel data, hard-negative index, typo protocol, base model (it is loaded) — and reads the
training data, writing nothing: bad input leaves the store byte-for-byte unchanged.
:func:`execute` records the invocation and the run, trains (resuming from the newest checkpoint
of the run's folder), logs every step's losses and registers every checkpoint as a model.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from xlcli.errors import XlcliError
from xlcli.store import Store, invocations
from xlcli.store.catalog import resolve_dataset
from xlcli.train import checkpoints, mixing, precision, runs
from xlcli.train.config import DEFAULT_WEIGHT, TrainConfig
from xlcli.train.distributed import Distributed, finish_distributed, init_distributed, training_device
from xlcli.train.loop import TrainData, Trainer, total_steps
from xlcli.train.pairs import PairSet, build, guard, holdout, sentence_keys


@dataclass
class Plan:
    config: TrainConfig
    dataset: dict
    run_dir: Path
    existing: dict | None = None
    nothing_to_do: bool = False
    base_settings: object = None
    pair_set: PairSet | None = None
    data: TrainData | None = None
    parallel_leaks: Counter = field(default_factory=Counter)
    encoder: object = None
    typos: object = None
    steps: int = 0
    batch_size: int = 0  # the micro-batch actually used (--batch-size, at most the number of pairs)
    device: str = "cpu"
    precision: str = "fp32"  # what a step computes in on that device (xlcli.train.precision)
    dist: Distributed = field(default_factory=Distributed)
    mix: dict = field(default_factory=dict)  # "source:lang" → realised share of the run's draws (mixing weights only)

    def summary(self) -> dict:
        leaks = Counter(self.pair_set.leaks if self.pair_set else {}) + self.parallel_leaks
        return {
            "run": self.config.name,
            "dataset": self.dataset["name"],
            "base": self.config.base,
            "pairs": len(self.data.pairs) if self.data else 0,
            "pairs_by_source": self.pair_set.counts if self.pair_set else {},
            "parallel_pairs": len(self.data.parallel) if self.data else 0,
            "hard_negatives": sum(len(v) for v in self.data.negatives.values()) if self.data else 0,
            "leaks": dict(leaks),
            "allow_leakage": self.config.allow_leakage,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "device": self.device,
            "precision": self.precision,
            "world_size": self.dist.world,
            "output_dir": str(self.run_dir),
            "objectives": self.config.objectives(),
            **({"mix": self.mix} if self.mix else {}),
        }


def prepare(store: Store, config: TrainConfig) -> Plan:
    config = config.validated()
    with store.read() as conn:
        dataset = dict(resolve_dataset(conn, config.dataset))
        config = replace(config, dataset=dataset["name"])
        existing = runs.check_name(conn, config)
        run_dir = Path(existing["output_dir"]) if existing is not None else checkpoints.models_dir(store.path) / config.name
        plan = Plan(config, dataset, run_dir, existing=dict(existing) if existing is not None else None)
        if existing is not None and existing["status"] == "done":
            plan.nothing_to_do = True
            return plan
        if existing is not None and existing["status"] == "running" and Distributed.from_env().world == 1:
            _check_not_running_elsewhere(conn, existing)
        from xlcli.models import resolve_model

        _, plan.base_settings = resolve_model(conn, config.base)
        held = holdout(conn, dataset["id"])
        translator = _translator(conn, config, dataset)
        plan.pair_set = build(conn, dataset, config.pairs, split=config.split, allow_leakage=config.allow_leakage, holdout_=held,
                              seed=config.seed, translator=translator)
        parallel = []
        if config.parallel:
            from xlcli.train import alignment_data

            for name, sentences in alignment_data.load(conn, list(config.parallel)).items():
                kept, leaks = guard(sentences, held, config.allow_leakage, keys=sentence_keys)
                if not kept:
                    raise XlcliError(f"--parallel {name}: every sentence pair equals an evaluation query; none is left to train on")
                plan.parallel_leaks.update(leaks)
                parallel.extend(kept)
        if len(plan.pair_set.pairs) < 2:
            raise XlcliError(f"--pairs {','.join(s.spec for s in config.pairs)}: only {len(plan.pair_set.pairs)} pair; "
                             "in-batch negatives need at least 2 (add languages or sources)")
        if config.batch_size > len(plan.pair_set.pairs):
            # A batch larger than the data would only repeat pairs (masked out as negatives anyway).
            plan.batch_size = len(plan.pair_set.pairs)
        plan.data = TrainData(plan.pair_set.pairs, parallel, translator=translator,
                              mix=mixing.shares(plan.pair_set.pairs, config.pairs, DEFAULT_WEIGHT, config.balance_langs))
        _check_english_sources(config, plan.data.pairs)
        if config.teacher is not None:
            from xlcli.models import resolve_model

            _, teacher_settings = resolve_model(conn, config.teacher)
            plan.data.teacher = load_teacher(teacher_settings, "cpu")
        if config.hard_negatives:
            from xlcli.train.negatives import mine

            plan.data.negatives = mine(conn, config.hard_negatives, dataset, plan.data.pairs, depth=max(30, 4 * config.negatives_per_query))
    if config.typo_aware > 0 or config.typo_contrast > 0:  # the typo contrast misspells every query, whatever p
        from xlcli.train.typos import TypoMaker

        plan.typos = TypoMaker(config.typo_protocol, config.typo_aware, config.seed, sorted({p.lang for p in plan.data.pairs}))
    plan.batch_size = plan.batch_size or config.batch_size
    plan.dist = Distributed.from_env()
    plan.device = training_device(config.device, plan.dist)
    plan.precision = precision.resolve(config.precision, plan.device)
    plan.steps = total_steps(config, len(plan.data.pairs), plan.dist.world, plan.batch_size)
    # Before anything is trained, registered or loaded: the folder's checkpoints must be this run's.
    checkpoints.check_run(plan.run_dir, config.key, plan.steps)
    if plan.data.mix is not None:
        draws = plan.steps * config.grad_accum * plan.dist.world * plan.batch_size
        stream = mixing.stream(plan.data.pairs, plan.data.mix, config.seed, salt=1)  # the Trainer's stream
        plan.mix = {source: round(share, 4) for (source, _lang), share in stream.realised(draws).items()}
    if plan.data.teacher is not None:
        plan.data.teacher.model.to(plan.device)
        plan.data.teacher.device = plan.device
    plan.encoder = load_student(plan.base_settings, plan.device)
    return plan


def _translator(conn, config: TrainConfig, dataset: dict):
    """The en→xx word translator of ``--lexicon`` (names learnt from the dataset's passages), or None."""
    if not config.lexicons:
        return None
    from sqlalchemy import text

    from xlcli.train.translate import WordTranslator

    passages = [t for (t,) in conn.execute(text("SELECT text FROM passages WHERE dataset_id = :d ORDER BY id"), {"d": dataset["id"]})]
    return WordTranslator.read(config.lexicons, passages)


def _check_english_sources(config: TrainConfig, pairs) -> None:
    """Cross-lingual self-teaching needs foreign queries whose English source is known."""
    if config.xl_teaching > 0 and config.code_switch == 0 and not any(p.en_query is not None and p.lang != "en" for p in pairs):
        raise XlcliError(
            f"--xl-teaching: none of the pairs of --pairs {','.join(s.spec for s in config.pairs)} has a known English source; "
            "add human translations (queries:es,...), translate-train pairs (translated:es,... with --lexicon) or --code-switch")


def load_teacher(settings, device: str):
    """A frozen encoder (eval mode, no gradients) for the English side of --xl-teaching."""
    encoder = load_student(settings, device)
    encoder.model.eval()
    for parameter in encoder.model.parameters():
        parameter.requires_grad_(False)
    return encoder


def _store_translated(conn, plan: Plan, invocation_id: int) -> int:
    """The translate-train questions as ``queries`` rows (translator ``lexicon:<sha>``, linked to
    their English source, qrels copied); present rows are kept, so a re-run adds nothing."""
    from xlcli.datasets.translations import Translation
    from xlcli.ingest import write_translations
    from xlcli.train.translate import translator_name

    added = 0
    for lang, lexicon in sorted(plan.data.translator.lexicons.items()):
        found = {(p.ext_id, p.query) for p in plan.data.pairs if p.source == f"translated:{lang}"}
        rows = [Translation(ext_id, lang, query, where="translate-train") for ext_id, query in sorted(found)]
        if rows:
            added += write_translations(conn, plan.dataset["id"], rows, translator=translator_name(lexicon), invocation_id=invocation_id)[0]
    return added


def _check_not_running_elsewhere(conn, run) -> None:
    """Two processes training one run would write the same checkpoint folder."""
    row = invocations.state_of(conn, run["invocation_id"])
    if row is not None and invocations.is_live_elsewhere(row.state, row.pid, row.host):
        raise XlcliError(f"--name {run['name']}: that run is being trained right now by process {row.pid} on {row.host}; "
                         "wait for it, or stop it and run this command again to resume")


def load_student(settings, device: str):
    """The base encoder in float32 on ``device`` (Encoder halves models on GPUs for inference;
    training keeps float32 master weights and uses bf16 autocast instead)."""
    encoder = settings.load(device="cpu")
    encoder.model = encoder.model.float().to(device)
    encoder.device = device
    return encoder


@dataclass
class Result:
    run: str
    nothing_to_do: bool = False
    started_at_step: int = 0
    steps: int = 0
    seconds: float = 0.0
    models: list[str] = field(default_factory=list)
    final_losses: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def execute(store: Store, plan: Plan, *, progress: bool = True) -> Result:
    config = plan.config
    if plan.nothing_to_do:
        return Result(config.name, nothing_to_do=True, summary={"output_dir": str(plan.run_dir)})
    plan.dist = init_distributed(plan.device)
    if not plan.dist.main:
        _trainer(plan).run()
        finish_distributed(plan.dist)
        return Result(config.name, steps=plan.steps)

    result = Result(config.name, steps=plan.steps, summary=plan.summary())
    with invocations.step(store, "train", {"name": config.name, **config.key_params()}) as inv:
        if inv.already_done:  # finished by a concurrent process since prepare()
            result.nothing_to_do = True
            return result
        from xlcli.models import register_model

        with store.write() as conn:
            run_id = runs.start(conn, config, dataset_id=plan.dataset["id"], output_dir=plan.run_dir, invocation_id=inv.id,
                                extra={"realised_mix": plan.mix} if plan.mix else None)
            if plan.data.translator is not None:
                result.summary["translated_queries_added"] = _store_translated(conn, plan, inv.id)
            base_id = register_model(conn, plan.base_settings, plan.encoder.dim, invocation_id=inv.id)

        def on_checkpoint(step: int, folder: Path, final: bool) -> None:
            with store.write() as conn:
                name = runs.checkpoint_name(config.name, step, final)
                runs.register_checkpoint(conn, plan.base_settings, folder, plan.encoder.dim, run_name=config.name, run_id=run_id,
                                         step=step, final=final, base_model_id=base_id, invocation_id=inv.id)
            result.models.append(name)

        started = time.perf_counter()
        try:
            with _bar(plan, progress) as bar:
                def on_step(log) -> None:
                    runs.log_step(store, run_id, log.step, log.losses, log.lr)
                    result.final_losses = log.losses
                    bar(log)

                trainer = _trainer(plan, on_step=on_step, on_checkpoint=on_checkpoint)
                result.started_at_step = trainer.run()
        except BaseException:
            runs.set_status(store, run_id, "failed")
            raise
        result.seconds = time.perf_counter() - started
        # A run killed between writing a checkpoint and registering it registers it now.
        for step in checkpoints.saved_steps(plan.run_dir):
            on_checkpoint(step, checkpoints.step_dir(plan.run_dir, step), step == plan.steps)
        result.models = sorted(set(result.models), key=lambda n: (n != config.name, n))
        runs.set_status(store, run_id, "done")
        result.summary.update({"seconds": round(result.seconds, 2), "started_at_step": result.started_at_step,
                               "models": result.models, "final_losses": result.final_losses})
        inv.summary = result.summary
    finish_distributed(plan.dist)
    return result


def _trainer(plan: Plan, **callbacks) -> Trainer:
    return Trainer(plan.config, plan.encoder, plan.data, plan.run_dir, steps=plan.steps, typos=plan.typos,
                   dist_env=plan.dist, batch_size=plan.batch_size, **callbacks)


class _bar:
    """The progress bar of the remaining steps (loss and ETA), or nothing."""

    def __init__(self, plan: Plan, enabled: bool):
        self.plan, self.enabled = plan, enabled
        self._cm = None
        self._bar = None
        self._first: int | None = None

    def __enter__(self):
        from xlcli import progress

        if self.enabled:
            done = checkpoints.latest_resumable(self.plan.run_dir)
            remaining = self.plan.steps - (done[0] if done else 0)
            title = f"Training {self.plan.config.name}" + (f" (resuming at step {done[0]})" if done else "")
            self._cm = progress.bar(title, remaining, unit="steps")
            self._bar = self._cm.__enter__()
        return self

    def __call__(self, log) -> None:
        if self._bar is not None:
            parts = [f"loss {log.losses.get('total', 0.0):.4f}"]
            parts += [f"{k} {v:.4f}" for k, v in sorted(log.losses.items()) if k != "total"]
            self._bar.advance(1, info=" · ".join(parts))

    def __exit__(self, *exc):
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return False
