"""Figures of the evaluation: pass@k curves, and the shared figure finishing (also used by the demo)."""

from __future__ import annotations


def plot_pass_at_k(summaries: dict[str, dict], path: str, title: str = "pass@k on held-out prompts") -> str:
    """One curve per model (``name -> summary``), ±1 standard error as a band."""
    fig, ax = new_figure()
    for name, summary in summaries.items():
        ks = range(1, len(summary["pass_at_k"]) + 1)
        means = [p["mean"] for p in summary["pass_at_k"]]
        ses = [p["se"] for p in summary["pass_at_k"]]
        ax.plot(ks, means, marker="o", ms=3, label=name)
        ax.fill_between(ks, [m - s for m, s in zip(means, ses)], [m + s for m, s in zip(means, ses)], alpha=0.2)
    return save_figure(fig, ax, path, "k", "pass@k", title)


def new_figure():
    """A (figure, axes) pair of the size every figure here uses, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4))


def save_figure(fig, ax, path: str, xlabel: str, ylabel: str, title: str) -> str:
    """Label, grid, legend and write a matplotlib figure to ``path`` (PNG); close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
