"""Build edgetl's table of published latencies (edgetl/analysis/anchors.csv) from the publications themselves.

    python benchmarks/collect_anchors.py --ncnn-readme PATH --ncnn-commit SHA --shared ../shared

Sources, each row keeps its own:
- ncnn's ``benchmark/README.md`` (Tencent/ncnn): ``benchncnn`` output on many boards, at several thread counts.
  Kept: CPU runs (gpu_device -1) of the boards in ``NCNN_BOARDS`` (Arm boards whose cores are named in the heading;
  on big.LITTLE chips only runs pinned to the big cores, powersave 2, with at most that many threads), for the
  models edgetl can rebuild to count their operations (``MODELS``); the ``avg`` column.
- XNNPACK's README (google/XNNPACK@0085ae36): MobileNet v1/v2/v3 on Pixel phones (1 thread and one thread per big
  core) and Raspberry Pi boards (4 threads). Transcribed below, table by table.
- Coral's Edge TPU benchmark table (coral.ai/docs/edgetpu/benchmarks): the USB Accelerator and Dev Board columns
  for the ImageNet models edgetl can rebuild (``CORAL_ROWS``).
- ``../shared/anchors/published_latency.csv``: the published rows it lists (TFLite hosted models, XNNPACK, ncnn,
  Coral, EfficientNet-Lite, TF-slim MobileNet), each with its source; rows of models or devices outside the
  tables here are skipped (and counted).

The facts about each device (cores, clock, core type) live in edgetl/analysis/anchor_devices.yaml.
"""
from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "edgetl" / "analysis" / "anchors.csv"
FIELDS = ["id", "model", "input_px", "precision", "device", "runtime", "threads", "latency_ms", "source"]

# ncnn model name -> (edgetl anchor model, precision)
NCNN_MODELS = {"mobilenet": ("mobilenet_v1_1.0", "fp32"), "mobilenet_v2": ("mobilenet_v2_1.0", "fp32"),
               "efficientnet_b0": ("efficientnet_b0", "fp32"), "resnet50": ("resnet50", "fp32"),
               "vgg16": ("vgg16", "fp32"), "mobilenet_int8": ("mobilenet_v1_1.0", "int8"),
               "resnet50_int8": ("resnet50", "int8"), "vgg16_int8": ("vgg16", "int8")}
# heading prefix -> (device id in anchor_devices.yaml, big.LITTLE: only powersave-2 runs count)
NCNN_BOARDS = {
    "Raspberry Pi 3 Model B+": ("rpi3bplus", False),
    "Raspberry Pi 4 Model B": ("rpi4-1.8ghz", False),
    "Raspberry Pi 5 Broadcom BCM2712, Cortex-A76": ("rpi5", False),
    "Raspberry Pi Zero 2 W": ("rpi-zero2w", False),
    "Radxa Zero 3W": ("rk3566-radxa-zero3w", False),
    "Station P2, Rockchip RK3568": ("rk3568-station-p2", False),
    "Rock3A, Rockchip RK3568": ("rk3568-rock3a", False),
    "Qualcomm MSM8916 Snapdragon 410": ("snapdragon410", False),
    "NVIDIA Jetson Nano": ("jetson-nano-cpu", False),
    "NVIDIA Jetson Orin Nano": ("jetson-orin-nano-cpu", False),
    "NVIDIA Jetson AGX Orin": ("jetson-agx-orin-cpu", False),
    "Rockchip RK3588 (": ("rk3588", True),
    "Khadas VIM3": ("amlogic-a311d", True),
    "Kirin 970": ("kirin970", True),
    "Qualcomm MSM8998 Snapdragon 835": ("snapdragon835", True),
    "Qualcomm MSM8994 Snapdragon 810": ("snapdragon810", True),
    "Rockchip RK3399 (": ("rk3399", True),
    "OrangePi Zero 2": ("allwinner-h616", False),
    "NanoPi R2S": ("rk3328", False),
    "RDK X3 Module": ("sunrise-x3", False),
}
XNNPACK_SOURCE = "google/XNNPACK@0085ae3628ee7dc042342df5a4e98ebdb55a806c README.md"
# (device, threads, {model: ms}) as printed in XNNPACK's README tables
XNNPACK_ROWS = [
    ("pixel1", 1, {"mobilenet_v1_1.0": 82, "mobilenet_v2_1.0": 49, "mobilenet_v3_large": 39, "mobilenet_v3_small": 12}),
    ("pixel2", 1, {"mobilenet_v1_1.0": 86, "mobilenet_v2_1.0": 53, "mobilenet_v3_large": 42, "mobilenet_v3_small": 14}),
    ("pixel3a", 1, {"mobilenet_v1_1.0": 88, "mobilenet_v2_1.0": 55, "mobilenet_v3_large": 44, "mobilenet_v3_small": 14}),
    ("pixel1", 2, {"mobilenet_v1_1.0": 43, "mobilenet_v2_1.0": 26, "mobilenet_v3_large": 22, "mobilenet_v3_small": 7}),
    ("pixel2", 4, {"mobilenet_v1_1.0": 27, "mobilenet_v2_1.0": 18, "mobilenet_v3_large": 16, "mobilenet_v3_small": 6}),
    ("pixel3a", 2, {"mobilenet_v1_1.0": 46, "mobilenet_v2_1.0": 28, "mobilenet_v3_large": 24, "mobilenet_v3_small": 8}),
    ("rpi2", 4, {"mobilenet_v1_1.0": 341, "mobilenet_v2_1.0": 197, "mobilenet_v3_large": 165, "mobilenet_v3_small": 53}),
    ("rpi3bplus", 4, {"mobilenet_v1_1.0": 115, "mobilenet_v2_1.0": 79, "mobilenet_v3_large": 67, "mobilenet_v3_small": 23}),
    ("rpi4", 4, {"mobilenet_v1_1.0": 75, "mobilenet_v2_1.0": 44, "mobilenet_v3_large": 41, "mobilenet_v3_small": 14}),
]
CORAL_SOURCE = "coral.ai/docs/edgetpu/benchmarks (Table 1, time per inference)"
# model -> (USB Accelerator on a desktop host over USB 3.0, Dev Board), ms, as the table prints them
CORAL_ROWS = {"inception_resnet_v2": (57, 69), "mobilenet_v1_1.0": (2.4, 2.4), "mobilenet_v2_1.0": (2.6, 2.6),
              "resnet50_299": (49, 56), "resnet50v2_299": (50, 59), "resnet152v2_299": (128, 151),
              "vgg16": (296, 343), "vgg19": (308, 357), "densenet121": (20, 25)}
# shared CSV (model, alpha, input) -> anchor model; its device names -> anchor_devices.yaml ids
SHARED_MODELS = {("mobilenet_v2", "1.0", "224"): "mobilenet_v2_1.0", ("mobilenet_v2", "0.35", "224"): "mobilenet_v2_0.35",
                 ("mobilenet_v1", "1.0", "224"): "mobilenet_v1_1.0", ("mobilenet_v3_large", "1.0", "224"):
                 "mobilenet_v3_large", ("mobilenet_v3_small", "1.0", "224"): "mobilenet_v3_small",
                 ("inception_v3", "", "299"): "inception_v3", ("efficientnet_b0", "", "224"): "efficientnet_b0",
                 ("efficientnet_lite0", "", "224"): "efficientnet_lite0", ("resnet50", "", "224"): "resnet50",
                 ("resnet50", "", "299"): "resnet50_299", ("vgg16", "", "224"): "vgg16"}
SHARED_DEVICES = {"pixel1": "pixel1", "pixel3": "pixel3", "pixel4": "pixel4", "rpi4": "rpi4",
                  "coral-usb": "coral-usb", "coral-devboard": "coral-devboard"}
# TFLite's own CPU kernels before XNNPACK became the default (the 2018-2020 figures) are a runtime of their own
RUNTIMES = {"tflite-cpu": "tflite-cpu", "tflite-xnnpack": "xnnpack", "ncnn": "ncnn", "edgetpu": "edgetpu",
            "tflite-gpu": "tflite-gpu"}
INPUT = {"inception_v3": 299, "resnet50_299": 299, "resnet50v2_299": 299, "resnet152v2_299": 299,
         "inception_resnet_v2": 299}


def parse_ncnn(text: str, commit: str) -> list[dict]:
    rows = []
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    for sec in sections:
        title = sec.splitlines()[0].strip()
        board = next((v for k, v in NCNN_BOARDS.items() if title.startswith(k)), None)
        if board is None:
            continue
        device, big_little = board
        for block in re.split(r"^loop_count", sec, flags=re.M)[1:]:
            def val(key: str, default: int) -> int:
                m = re.search(rf"^{key} = (-?\d+)", block, flags=re.M)
                return int(m.group(1)) if m else default
            threads, powersave, gpu = val("num_threads", 0), val("powersave", 0), val("gpu_device", -1)
            if gpu != -1 or threads < 1 or (big_little and powersave != 2) or (not big_little and powersave == 1):
                continue
            for m in re.finditer(r"^\s*([\w-]+)\s+min =\s*([\d.]+)\s+max =\s*([\d.]+)\s+avg =\s*([\d.]+)", block,
                                 flags=re.M):
                name = m.group(1).replace("-", "_")
                if name not in NCNN_MODELS:
                    continue
                model, prec = NCNN_MODELS[name]
                rows.append({"model": model, "input_px": INPUT.get(model, 224), "precision": prec, "device": device,
                             "runtime": "ncnn", "threads": threads, "latency_ms": float(m.group(4)),
                             "source": f"Tencent/ncnn@{commit[:12]} benchmark/README.md: {title[:60]} "
                                       f"(threads {threads}, powersave {powersave}, avg)"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ncnn-readme", type=Path, required=True)
    ap.add_argument("--ncnn-commit", required=True)
    ap.add_argument("--shared", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = []
    skipped = 0
    with open(args.shared / "anchors" / "published_latency.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            model = SHARED_MODELS.get((r["model"], r["alpha"], r["input_px"]))
            device = SHARED_DEVICES.get(r["device"])
            runtime = RUNTIMES.get(r["runtime"])
            if model is None or device is None or runtime is None:
                skipped += 1
                continue
            rows.append({"model": model, "input_px": int(r["input_px"]), "precision": r["precision"],
                         "device": device, "runtime": runtime, "threads": int(r["threads"] or 1),
                         "latency_ms": float(r["latency_ms"]), "source": r["source"]})
    for device, threads, table in XNNPACK_ROWS:
        for model, ms in table.items():
            rows.append({"model": model, "input_px": 224, "precision": "fp32", "device": device,
                         "runtime": "xnnpack", "threads": threads, "latency_ms": float(ms),
                         "source": f"{XNNPACK_SOURCE} ({'single' if threads == 1 else 'multi'}-threaded table)"})
    for model, (usb, board) in CORAL_ROWS.items():
        for device, ms in (("coral-usb", usb), ("coral-devboard", board)):
            rows.append({"model": model, "input_px": INPUT.get(model, 224), "precision": "int8", "device": device,
                         "runtime": "edgetpu", "threads": 1, "latency_ms": float(ms), "source": CORAL_SOURCE})
    rows += parse_ncnn(args.ncnn_readme.read_text(encoding="utf-8"), args.ncnn_commit)
    seen, out = set(), []
    for r in rows:  # the same published figure twice (the shared CSV quotes XNNPACK's RPi 4 table) counts once
        key = (r["model"], r["precision"], r["device"], r["runtime"], r["threads"], r["latency_ms"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for i, r in enumerate(out, 1):
            w.writerow({"id": f"A{i:03d}", **r})
    devices = sorted({r["device"] for r in out})
    print(f"{len(out)} anchors on {len(devices)} devices -> {args.out} ({skipped} shared rows outside the tables)")


if __name__ == "__main__":
    main()
