"""``xlcli fuse``: rank fusion of evaluated systems, stored as a new system."""

from __future__ import annotations

from pathlib import Path

import typer

from xlcli.commands.common import open_existing, print_runs
from xlcli.commands.ranges import DEPTH
from xlcli.fuse import methods, norms


def fuse(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Name of the fused system (its report row)."),
    systems: str = typer.Option(..., "--systems", help="Systems to fuse, comma-separated: INDEX, INDEX@REWRITE or a fusion name."),
    method: str = typer.Option(methods.DEFAULT_METHOD, "--method", help=f"Fusion method. {methods.help_text()}."),
    k: int | None = typer.Option(None, "--k", callback=DEPTH, help=f"RRF's k (default {methods.DEFAULT_K})."),
    norm: str | None = typer.Option(None, "--norm", help=f"Score normalisation per query (default minmax; none for rrf). {norms.help_text()}."),
    weights: str | None = typer.Option(None, "--weights", help="One weight per system, comma-separated (weighted methods: "
                                       + ", ".join(m.name for m in methods.METHODS.values() if m.weighted) + ")."),
    depth: int = typer.Option(100, "--depth", callback=DEPTH, help="Top passages of each input fused, and of the fused ranking kept."),
    langs: str | None = typer.Option(None, "--langs", help="Languages (default: every one all systems have)."),
    split: str = typer.Option("test", "--split", help="Query split to fuse and measure."),
    measures: str | None = typer.Option(None, "--measures", help="ir_measures names (default: those all input runs have)."),
    optimize_on: str | None = typer.Option(None, "--optimize-on", help="Fit k (rrf) or weights (wsum) on this split by a grid search."),
    opt_measure: str = typer.Option("R@10", "--opt-measure", help="Measure the grid search maximises."),
    allow_leakage: bool = typer.Option(False, "--allow-leakage", help="Allow --optimize-on an evaluation split (the system is marked leaky)."),
    trec_out: Path | None = typer.Option(None, "--trec-out", help="Directory for TREC run files (and matching qrels)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per (language, condition)."),
) -> None:
    """Fuse the stored eval runs of systems (RRF, CombSUM, CombMNZ, weighted sum, ...) into a new system.

    For every (language, condition) all systems have — clean queries and each variant set — the
    rankings are fused query by query (and variant by variant), measured and stored as an eval run
    of the fused system, which report, inspect and sql then show like any other system.
    """
    from xlcli.fuse.combine import parse_weights
    from xlcli.fuse.runner import fuse as run_fuse

    with open_existing(ctx, write=True) as store:
        results = run_fuse(
            store, name, systems, method=method, norm=norm, k=k, weights=parse_weights(weights), depth=depth, langs=langs,
            split=split, measures=measures, optimize_on=optimize_on, opt_measure=opt_measure, allow_leakage=allow_leakage,
            trec_out=trec_out,
        )
    print_runs(results, title=f"{name}: split {split}", system_column="system", trec_out=trec_out, as_json=as_json)
