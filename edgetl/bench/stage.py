"""The benchmark as a cached stage of a run: ``bench-<key>/`` with bench.json/csv/md/html.

The key covers the artifacts' content, the device profiles (every field), the bench options and this
machine's processor and runtimes, so a rerun of the same pipeline reuses the measurement, and a change in
any of them measures again. ``remeasure: true`` (``--set bench.remeasure=true``) measures again anyway.
"""
from __future__ import annotations

import platform
import shutil
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from ..artifacts import Artifact, library_versions
from ..config import BenchConfig
from ..pipeline import RunContext, StageResult, run_stage


class BenchStage:
    name: ClassVar[str] = "bench"
    version: ClassVar[int] = 1

    def __init__(self, run_dir: Path, profiles: list[Any], progress: Callable[[str], None] | None = None,
                 accuracy_budget: float | None = None) -> None:
        self.run_dir = run_dir
        self.profiles = profiles
        self.progress = progress
        self.accuracy_budget = accuracy_budget

    def tool_versions(self) -> Mapping[str, str]:
        return {**library_versions("ai-edge-litert", "onnxruntime", "onnxruntime-gpu", "openvino", "numpy"),
                "machine": f"{platform.machine()} {platform.processor() or _cpu_model()}"}

    def run(self, inputs: Mapping[str, Artifact], config: BenchConfig, ctx: RunContext) -> dict[str, Artifact]:
        from .report import write_reports
        from .runner import collect, run_bench

        omitted: list[dict[str, Any]] = []
        arts = [a for a in collect([str(self.run_dir)]) if a.target in inputs]  # exactly the artifacts keyed
        rows = run_bench(arts, self.profiles, data_dir=None, out_dir=ctx.out_dir,
                         threads=list(config.threads) or None, max_images=config.max_images,
                         progress=self.progress, omitted=omitted)
        paths = write_reports(rows, ctx.out_dir, {p.name: p.to_dict() for p in self.profiles},
                              omitted=omitted, accuracy_budget=self.accuracy_budget)
        shutil.rmtree(ctx.out_dir / ".eval", ignore_errors=True)  # decoded pixels: a cache, not a result
        ctx.info = {"rows": len(rows), "measured": sum(r["status"] == "ok" for r in rows),
                    "omitted": len(omitted)}
        return {k: Artifact.from_file(p, k) for k, p in paths.items()}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


def bench_run(run_dir: Path, config: BenchConfig, exports: Mapping[str, Artifact], *,
              progress: Callable[[str], None] | None = None, accuracy_budget: float | None = None,
              on_start: Callable[[str, str], None] | None = None) -> StageResult:
    """Benchmark the run's current artifacts as a cached stage; ``config.remeasure`` discards a finished one."""
    profiles = config.profiles()
    stage = BenchStage(run_dir, profiles, progress, accuracy_budget)
    key_cfg = {**{k: v for k, v in config.to_dict().items() if k != "remeasure"},
               "profiles": [p.to_dict() | {"path": None} for p in profiles],
               "accuracy_budget": accuracy_budget}
    if config.remeasure:
        from ..artifacts import cache_key

        key = cache_key(stage.name, stage.version, key_cfg, {k: a.sha256 for k, a in exports.items()},
                        stage.tool_versions())
        shutil.rmtree(run_dir / f"{stage.name}-{key}", ignore_errors=True)
    return run_stage(stage, exports, config, run_dir, config_dict=key_cfg, on_start=on_start)
