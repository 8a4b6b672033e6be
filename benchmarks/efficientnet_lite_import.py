"""Import EfficientNet-Lite0 from its PyTorch checkpoint and compare logits with a PyTorch reference.

    python benchmarks/efficientnet_lite_import.py --images ../shared/datasets/flowers --n 200
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--variant", type=int, default=0)
    args = ap.parse_args()
    import torch

    from edgetl.backbones.efficientnet_lite import VARIANTS, EfficientNetLite
    from edgetl.backbones.lite_import import find_checkpoint, import_checkpoint
    from edgetl.backbones.lite_torch import build_torch
    from edgetl.data.scan import scan
    from edgetl.data.images import decode_many

    res = VARIANTS[args.variant][2]
    with tempfile.TemporaryDirectory() as d:
        paths = import_checkpoint(args.variant, d)
        km = EfficientNetLite(args.variant, include_top=True)
        km.load_weights(str(paths["top"]))
    tm = build_torch(args.variant)
    tm.load_state_dict(torch.load(str(find_checkpoint(args.variant)), map_location="cpu", weights_only=True))
    ds = scan(args.images)
    pick = np.random.default_rng(0).choice(len(ds.samples), args.n, replace=False)
    pixels, _ = decode_many([str(ds.samples[i].path) for i in sorted(pick)], res)
    x = (pixels.astype(np.float32) - 127.0) / 128.0
    kl = np.asarray(km.predict(x, batch_size=32, verbose=0))
    with torch.no_grad():
        tl = np.concatenate([tm(torch.from_numpy(x[i:i + 32].transpose(0, 3, 1, 2).copy())).numpy()
                             for i in range(0, len(x), 32)])
    diff = np.abs(kl - tl)
    out = {"date": time.strftime("%Y-%m-%d"), "variant": args.variant, "images": len(x),
           "max_abs_logit_diff": float(diff.max()), "mean_abs_logit_diff": float(diff.mean()),
           "top1_agreement": float((kl.argmax(1) == tl.argmax(1)).mean()),
           "logit_range": [float(kl.min()), float(kl.max())]}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path(f"benchmarks/results/efficientnet_lite{args.variant}_import.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
