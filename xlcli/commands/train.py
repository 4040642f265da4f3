"""``xlcli train``: fine-tune an encoder on cross-lingual relevance pairs (resumable, seeded).

Several GPUs: ``torchrun --nproc-per-node N -m xlcli train ...`` runs one process per GPU with
DistributedDataParallel (NCCL; gloo on CPU); each rank trains on its own micro-batches, rank 0
alone writes the store and the checkpoints. A run started on N processes resumes on N.
"""

from __future__ import annotations

import typer

from xlcli.commands.common import open_for_write, out, print_json
from xlcli.commands.ranges import library
from xlcli.perturb.protocols import PROTOCOLS
from xlcli.train import precision as train_precision
from xlcli.train.config import check_value
from xlcli.train.sources import pairs_help, parse_pair_sources
from xlcli.train.translate import parse_lexicons


def _checked(name: str):
    """The parse-time check of a numeric option: TrainConfig's own (xlcli/train/config.py CHECKS)."""
    return library(check_value, name)


def train(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Run name; names the checkpoint folder and the registered models (NAME, NAME@step-N)."),
    base: str = typer.Option("default", "--base", help="Starting encoder: default, a registered model, a local folder or a hub id."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset whose pairs to train on (default: the only one)."),
    pairs: str = typer.Option("queries:en", "--pairs", help=pairs_help()),
    split: str = typer.Option("train", "--split", help="Split whose queries are trained on; an evaluation split needs --allow-leakage."),
    parallel: str | None = typer.Option(None, "--parallel", help="Parallel datasets (comma-separated) for the alignment objective."),
    hard_negatives: str | None = typer.Option(None, "--hard-negatives", help="Index to mine hard negatives from."),
    negatives_per_query: int = typer.Option(1, "--negatives-per-query", callback=_checked("negatives_per_query"), help="Hard negatives drawn per query and step."),
    typo_aware: float | None = typer.Option(None, "--typo-aware", callback=_checked("typo_aware"), help="Probability of replacing a query by a misspelled variant (0.5 in Zhuang & Zuccon 2021; default 0.5 with --self-teaching, else 0)."),
    typo_protocol: str = typer.Option("ielab", "--typo-protocol", help=f"Perturbation protocol of the variants: {', '.join(PROTOCOLS)} (see `xlcli perturb`)."),
    self_teaching: bool = typer.Option(False, "--self-teaching", help="Add KL(clean ‖ misspelled) score distributions (Zhuang & Zuccon 2022)."),
    align_weight: float = typer.Option(1.0, "--align-weight", callback=_checked("align_weight"), help="Weight of the alignment MSE (--parallel sentences, --align-pairs)."),
    align_pairs: bool = typer.Option(False, "--align-pairs", help="Also align each batch's translated / lexicon-generated queries to the frozen starting model's embedding of their English side."),
    epochs: float | None = typer.Option(None, "--epochs", callback=_checked("epochs"), help="Passes over the pairs (default 1; or give --steps)."),
    steps: int | None = typer.Option(None, "--steps", callback=_checked("steps"), help="Optimizer steps."),
    batch_size: int = typer.Option(32, "--batch-size", callback=_checked("batch_size"), help="Pairs per micro-batch (in-batch negatives)."),
    lr: float = typer.Option(2e-5, "--lr", callback=_checked("lr"), help="Peak learning rate (AdamW)."),
    warmup: float = typer.Option(0.1, "--warmup", callback=_checked("warmup"), help="Linear warm-up, as a fraction of the steps; then linear decay to 0."),
    temperature: float = typer.Option(0.05, "--temperature", callback=_checked("temperature"), help="InfoNCE temperature τ."),
    max_length: int = typer.Option(128, "--max-length", callback=_checked("max_length"), help="Tokens per text during training."),
    grad_accum: int = typer.Option(1, "--grad-accum", callback=_checked("grad_accum"), help="Micro-batches per optimizer step."),
    weight_decay: float = typer.Option(0.01, "--weight-decay", callback=_checked("weight_decay"), help="AdamW weight decay."),
    max_grad_norm: float = typer.Option(1.0, "--max-grad-norm", callback=_checked("max_grad_norm"), help="Gradient clipping norm."),
    seed: int = typer.Option(0, "--seed", callback=_checked("seed"), help="Seed of data order, misspellings, negatives and dropout."),
    save_every: int = typer.Option(200, "--save-every", callback=_checked("save_every"), help="Checkpoint every N steps (and at the end)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps (CUDA trains with bf16 autocast)."),
    precision: str = typer.Option("auto", "--precision", callback=library(train_precision.check_name),
                                  help=f"Arithmetic of a step: {train_precision.help_text()}."),
    lexicon: list[str] = typer.Option([], "--lexicon", help="LANG=PATH: an en→LANG MUSE dictionary, for translated:LANGS pairs and --code-switch (repeatable)."),
    balance_langs: bool = typer.Option(True, "--balance-langs/--by-size", help="With mixing weights (@W): a source's languages share its weight evenly, or by their sizes."),
    code_switch: float = typer.Option(0.0, "--code-switch", callback=_checked("code_switch"), help="Fraction of an English question's words replaced by translations in random --lexicon languages (CoSDA-ML, Qin et al. 2020), in [0, 1)."),
    code_switch_queries: float = typer.Option(0.5, "--code-switch-queries", callback=_checked("code_switch_queries"), help="Fraction of English questions that --code-switch rewrites."),
    xl_teaching: float = typer.Option(0.0, "--xl-teaching", callback=_checked("xl_teaching"), help="Weight of cross-lingual self-teaching: KL(English query's scores ‖ its translation's) over the batch (0 = off)."),
    teacher: str | None = typer.Option(None, "--teacher", help="Frozen model that scores the English side of --xl-teaching (default: the student itself)."),
    typo_contrast: float = typer.Option(0.0, "--typo-contrast", callback=_checked("typo_contrast"), help="Weight of the multi-positive typo contrast: a query and its misspellings as positives (Sidiropoulos & Kanoulas 2024; 0 = off)."),
    typo_positives: int = typer.Option(2, "--typo-positives", callback=_checked("typo_positives"), help="Misspelled variants per query in --typo-contrast."),
    allow_leakage: bool = typer.Option(False, "--allow-leakage", help="Train on evaluation-split material anyway; the run is marked leaky."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fine-tune an encoder: InfoNCE on relevance pairs, typo-aware / self-teaching, cross-lingual alignment.

    Re-running the same command resumes a killed run from its last checkpoint (to the same weights);
    after it finished, there is nothing to do.
    """
    from xlcli.train.config import TrainConfig
    from xlcli.train.plan import execute, prepare

    config = TrainConfig(
        name=name, base=base, dataset=dataset, pairs=parse_pair_sources(pairs), split=split,
        parallel=tuple(p.strip() for p in (parallel or "").split(",") if p.strip()), hard_negatives=hard_negatives,
        negatives_per_query=negatives_per_query, typo_aware=typo_aware,
        typo_protocol=typo_protocol, self_teaching=self_teaching, align_weight=align_weight, align_pairs=align_pairs, epochs=epochs, steps=steps,
        batch_size=batch_size, lr=lr, warmup=warmup, temperature=temperature, max_length=max_length, grad_accum=grad_accum,
        weight_decay=weight_decay, max_grad_norm=max_grad_norm, seed=seed, allow_leakage=allow_leakage,
        save_every=save_every, device=device, lexicons=parse_lexicons(lexicon), balance_langs=balance_langs,
        code_switch=code_switch, code_switch_queries=code_switch_queries, xl_teaching=xl_teaching, teacher=teacher,
        typo_contrast=typo_contrast, typo_positives=typo_positives, precision=precision,
    )
    with open_for_write(ctx) as store:
        plan = prepare(store, config)
        if not plan.nothing_to_do and plan.dist.main and not as_json:
            _describe(plan)
        result = execute(store, plan)
    if not plan.dist.main:
        return
    if as_json:
        print_json({"run": result.run, "nothing_to_do": result.nothing_to_do, **result.summary})
    elif result.nothing_to_do:
        out.print(f"[bold]{name}[/]: this run already finished with these parameters — nothing to do.")
    else:
        resumed = f", resumed at step {result.started_at_step}" if result.started_at_step else ""
        losses = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.final_losses.items()))
        out.print(f"[bold]{name}[/]: trained {result.steps} steps in {result.seconds:.1f} s{resumed}; last step: {losses or '-'}.")
        out.print(f"Models: {', '.join(result.models)} (in {plan.run_dir}).")


def _describe(plan) -> None:
    summary = plan.summary()
    by_source = ", ".join(f"{k} {v:,}" for k, v in summary["pairs_by_source"].items())
    out.print(f"[bold]{summary['run']}[/]: {summary['pairs']:,} pairs ({by_source}) from {summary['dataset']}, "
              f"{summary['steps']} steps on {summary['device']} in {summary['precision']}" + (f" × {summary['world_size']} processes" if summary["world_size"] > 1 else ""))
    out.print(f"Recipe: {summary['objectives']}.")
    if summary.get("mix"):
        out.print("Batches mixed by weight: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in summary["mix"].items()) + ".")
    if summary["batch_size"] < plan.config.batch_size:
        out.print(f"--batch-size {plan.config.batch_size} is more than the {summary['pairs']} pairs: batches of {summary['batch_size']}.")
    if summary["parallel_pairs"]:
        out.print(f"Alignment on {summary['parallel_pairs']:,} parallel sentence pairs.")
    if summary["hard_negatives"]:
        out.print(f"{summary['hard_negatives']:,} mined hard negatives.")
    if summary["leaks"]:
        leaks = ", ".join(f"{v:,} {k}" for k, v in summary["leaks"].items())
        verb = "KEPT (--allow-leakage; the run is marked leaky)" if summary["allow_leakage"] else "left out by the leakage guard"
        out.print(f"Evaluation-split material {verb}: {leaks}.")
