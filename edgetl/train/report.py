"""Training history as JSON rows and a PNG plot of loss and accuracy per phase."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def history_rows(phase: str, history: dict[str, list[float]], start_epoch: int = 0) -> list[dict[str, Any]]:
    n = len(next(iter(history.values()), []))
    return [{"phase": phase, "epoch": start_epoch + i + 1,
             **{k: round(float(v[i]), 6) for k, v in history.items()}} for i in range(n)]


def plot_history(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):  # phase names are plain text
        _plot_history(rows, path, plt)


def _plot_history(rows: list[dict[str, Any]], path: Path, plt: Any) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = list(range(1, len(rows) + 1))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(x, [r.get(metric) for r in rows], label=f"train {metric}")
        ax.plot(x, [r.get(f"val_{metric}") for r in rows], label=f"val {metric}")
        phase_starts = [i + 1 for i, r in enumerate(rows) if i and r["phase"] != rows[i - 1]["phase"]]
        for s in phase_starts:
            ax.axvline(s - 0.5, color="grey", linestyle="--", linewidth=1)
            ax.text(s - 0.4, ax.get_ylim()[1], rows[s - 1]["phase"], va="top", fontsize=8)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, never 2.5
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.part.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def data_facts(dataset: Any, val_dataset: Any, config: Any, classes: list[str], unit: str, sizes: tuple[int, int, int],
               where: str) -> dict[str, Any]:
    """The ``data`` block of a run's record: classes, counts, the split's sizes (``train_<unit>`` ...), the files
    skipped (each under ``where``: a path, or a row for texts) and where validation came from."""
    return {"root": str(dataset.root), "classes": classes, "counts": dataset.counts(),
            **{f"{part}_{unit}": int(n) for part, n in zip(("train", "val", "test"), sizes)},
            "skipped": [{where: w, "reason": r} for w, r in dataset.skipped +
                        (val_dataset.skipped if val_dataset else [])],
            "val_source": config.val_data or f"seeded split {config.val_split} (seed {config.seed})"}


def save_run_files(out: Any, model: Any, classes: list[str], config: Any, history: list) -> None:
    """What every train stage writes the same way: model.keras (whole or not at all), labels, config, history."""
    from ..artifacts import atomic_write_json, atomic_write_text

    strip_optimizers(model)
    tmp = out / ".model.part.keras"
    model.save(tmp)
    tmp.replace(out / "model.keras")
    atomic_write_text(out / "labels.txt", "".join(f"{c}\n" for c in classes))
    atomic_write_json(out / "config.json", config.to_dict())
    atomic_write_json(out / "history.json", history)
    plot_history(history, out / "history.png")


def strip_optimizers(model: Any) -> None:
    """Drop the optimizers of the model and its nested models before saving: the saved model is for
    inference and export, and a nested head's optimizer state only makes loading warn."""
    import keras

    for sub in [model, *(l for l in model._flatten_layers() if isinstance(l, keras.Model))]:
        if getattr(sub, "optimizer", None) is not None:
            sub.optimizer = None
            sub.compiled = False
