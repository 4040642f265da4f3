"""How a measure falls as queries get more misspelled: terminal bars and a paper-ready PNG."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from xlcli.errors import XlcliError

BAR_WIDTH = 20


def bars(curves: dict[str, dict[str, tuple[float, int]]], measure: str) -> Table:
    """One block per system: a bar per edit-distance bucket (0 = the clean queries)."""
    table = Table("system", "distance", measure, "n", "",
                  title=f"{measure} by Damerau edit distance of the variants (0 = clean)", title_justify="left")
    peak = max((m for c in curves.values() for m, _ in c.values()), default=1.0) or 1.0
    for system, curve in curves.items():
        for i, (bucket, (mean, n)) in enumerate(curve.items()):
            bar = Text("█" * max(1, round(BAR_WIDTH * mean / peak)), style="cyan" if bucket == "0" else "magenta")
            table.add_row(system if i == 0 else "", bucket, f"{100 * mean:.1f}", f"{n:,}", bar)
    return table


def check_plot_path(path: Path) -> None:
    if not path.parent.exists():
        raise XlcliError(f"--plot {path}: directory {path.parent} does not exist")
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise XlcliError(f"--plot {path}: use a .png, .pdf or .svg file name")


def plot(curves: dict[str, dict[str, tuple[float, int]]], measure: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=200)
    buckets = list(dict.fromkeys(b for c in curves.values() for b in c))
    for system, curve in curves.items():
        xs = [buckets.index(b) for b in curve]
        ax.plot(xs, [100 * m for m, _ in curve.values()], marker="o", linewidth=1.6, label=system)
    ax.set_xticks(range(len(buckets)), ["clean" if b == "0" else b for b in buckets])
    ax.set_xlabel("Damerau–Levenshtein distance of the misspelled query")
    ax.set_ylabel(f"{measure} (×100)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
