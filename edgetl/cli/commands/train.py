"""``edgetl train``: train a classifier on a class-folder dataset."""
from __future__ import annotations

from typing import Any

import click

from ...config import Strategy, TrainConfig
from ..options import emit, resolve_config


@click.command()
@click.option("--data", type=click.Path(), help="Folder with one sub-folder of images per class.")
@click.option("--val-data", type=click.Path(), help="Separate validation folder (default: a seeded split).")
@click.option("--backbone", help="Backbone id (see 'edgetl backbones'). Default: mobilenet_v2.")
@click.option("--alpha", type=float, help="Width multiplier for MobileNets.")
@click.option("--image-size", type=int, help="Square input size in pixels.")
@click.option("--weights", help="imagenet | none | PATH to a .weights.h5 file or folder.")
@click.option("--weights-dir", type=click.Path(), help="Folder of offline weights (<backbone>_<alpha>_<size>_no_top.weights.h5).")
@click.option("--strategy", type=click.Choice([s.value for s in Strategy]),
              help="auto | feature_extraction | feature_extraction_early | fine_tune | fine_tune_all.")
@click.option("--epochs", type=int, help="Maximum epochs for the head.")
@click.option("--fine-tune-epochs", type=int, help="Maximum epochs of fine-tuning.")
@click.option("--fine-tune-lr", type=float, help="Fine-tuning learning rate (default 1e-5).")
@click.option("--augment", help="Comma list: flip,crop,rotation,brightness,contrast.")
@click.option("--strict", is_flag=True, default=None, help="Refuse the dataset if any image is unreadable.")
@click.option("--seed", type=int, help="Seed for split, weights and shuffling.")
@click.option("--ray", help="Compute backbone features on a Ray cluster: HOST:PORT of its head, or auto "
              "(needs edgetl[distributed]; the images must be at the same path on every node).")
@click.option("--out", "out", type=click.Path(), default="runs/train", show_default=True, help="Run folder.")
@click.option("--config", "config_file", type=click.Path(), help="YAML file with train options (or a 'train:' section).")
@click.option("--set", "sets", multiple=True, help="Override an option: --set key=value (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train(out: str, config_file: str | None, sets: tuple[str, ...], as_json: bool, **opts: Any) -> None:
    """Train a classifier on a folder of class sub-folders.

    Example: edgetl train --data photos/ --backbone mobilenet_v2 --weights imagenet --out runs/mine
    """
    data = resolve_config(config_file, sets, opts, section="train")
    config = TrainConfig.from_dict(data)
    if not as_json:
        from ..printing import config_line, config_text

        verbose = (click.get_current_context().find_root().obj or {}).get("verbose", 0)
        click.echo("config:\n" + config_text(config.to_dict()) if verbose else
                   config_line({"train": config.to_dict()}, "train"), err=True)
        click.echo(f"run folder: {out}", err=True)
    from ...api import preflight
    from ...api import train as run_train
    from ...config import PipelineConfig

    preflight(PipelineConfig(run_dir=out, train=config))  # data, backbone, weights: before TensorFlow loads
    result = run_train(config, out, progress=not as_json)
    from ...train_record import read as read_record

    rec = read_record(result.out_dir)
    summary = {"run_dir": str(out), "stage_dir": str(result.out_dir), "cached": result.cached,
               "model": str(result.outputs["model"].path), "strategy": rec.strategy,
               "validation": {k: rec.validation[k] for k in ("images", "top1", "top5") if k in rec.validation},
               **({"test": {k: rec.test[k] for k in ("images", "top1", "top5") if k in rec.test}} if rec.test else {}),
               "skipped_files": len(rec.data["skipped"]), "timings_s": rec.timings_s}
    if as_json:
        emit(summary, True)
        return
    v = summary["validation"]
    lines = [f"{'reused' if result.cached else 'trained'}: {summary['model']}",
             f"strategy: {rec.strategy['strategy']} (requested {rec.strategy['requested']})",
             f"validation top-1 {v['top1']:.4f}" + (f", top-5 {v['top5']:.4f}" if "top5" in v else "") +
             f" on {v['images']} {rec.items_word}"]
    if rec.test:  # held out: reported, never chosen on
        lines.append(f"test top-1 {rec.test['top1']:.4f} on {rec.test['images']} {rec.items_word} (held out)")
    lines += [f"skipped files: {summary['skipped_files']}", f"time: {rec.timings_s.get('total_s')} s"]
    emit(summary, False, "\n".join(lines))
