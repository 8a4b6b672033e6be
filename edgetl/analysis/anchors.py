"""The published latencies the estimator is fitted on: anchors.csv, anchor_devices.yaml, anchor_models.json."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .cost import Cpu, Row, Work, cpu_from_hardware

HERE = Path(__file__).parent
ANCHORS = HERE / "anchors.csv"
DEVICES = HERE / "anchor_devices.yaml"
MODELS = HERE / "anchor_models.json"
CPU_RUNTIMES = ("xnnpack", "tflite-cpu", "ncnn")


def load_devices(path: Path = DEVICES) -> dict[str, dict]:
    from ..safe_yaml import load_mapping

    return dict(load_mapping(path, "anchor devices") or {})


def load_models(path: Path = MODELS) -> dict[str, dict]:
    return json.loads(path.read_text())["models"]


def work_from(d: dict) -> Work:
    return Work(d["conv_mmacs"], d["depthwise_mmacs"], d["fc_mmacs"], d["other_melements"], int(d["ops"]),
                float(d.get("activation_melements", 0.0)))


def source_group(source: str) -> str:
    """The publication a row comes from (its repository or site), for leave-one-source-out validation."""
    head = source.split()[0]
    return head.split("@")[0]


def load_rows(path: Path = ANCHORS) -> tuple[list[Row], list[dict]]:
    """CPU anchors as cost-model rows, and the other rows (Edge TPU, GPU) as dicts."""
    devices, models = load_devices(), load_models()
    cpu_rows, other = [], []
    cpus: dict[str, Cpu] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["model"] not in models:
                raise ValueError(f"{path}: anchor {r['id']} model {r['model']!r} is not in {MODELS.name}")
            if r["device"] not in devices:
                raise ValueError(f"{path}: anchor {r['id']} device {r['device']!r} is not in {DEVICES.name}")
            if r["runtime"] not in CPU_RUNTIMES:
                other.append({**r, "latency_ms": float(r["latency_ms"]), "model_facts": models[r["model"]],
                              "hardware": devices[r["device"]]})
                continue
            if r["device"] not in cpus:
                cpu, why = cpu_from_hardware(devices[r["device"]])
                if cpu is None:
                    raise ValueError(f"{DEVICES}: {r['device']}: {why}")
                cpus[r["device"]] = cpu
            cpu_rows.append(Row(work_from(models[r["model"]]), cpus[r["device"]], int(r["threads"] or 1),
                                r["runtime"], r["precision"], float(r["latency_ms"]), r["device"], r["source"],
                                r["model"], r["id"]))
    return cpu_rows, other
