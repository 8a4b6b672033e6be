"""Backbone features computed on a Ray cluster, in shards, into the same content-addressed cache.

The driver (the machine that runs ``edgetl train --ray ADDRESS``) cuts the image list into shards and
hands them to a pool of Ray actors; each actor builds the backbone once (with the driver's weights,
sent through Ray's object store, so every worker uses bit-identical arrays), reads and decodes its
shard's image files itself, checks that its pixels hash to what the driver decoded, and returns the
features. Each finished shard is written to ``<cache>/features/parts/<key>/`` at once, so an
interrupted run resumes where it stopped; a worker (or node) that dies loses only the shard it held,
which goes back to the queue. When every shard is in, the arrays are saved under the same keys as a
local extraction, so a later run, local or on Ray, finds them.

What must be shared: the image files, at the same absolute path on every node (NFS, a mounted
bucket, or a copy), and the same edgetl / TensorFlow / Keras versions (checked at start-up).
Weights and results travel through Ray.
"""
from __future__ import annotations

import hashlib
import io
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_write_bytes, library_versions
from ..errors import ClusterError, DataError

log = logging.getLogger(__name__)

PINNED = ("edgetl", "tensorflow", "tensorflow-cpu", "keras")  # must match between driver and workers
START_TIMEOUT_S = 600.0  # a worker imports TensorFlow and builds the backbone; a small board is slow at it
MAX_TRIES = 3  # a shard whose worker died this often is not retried again


def connect(address: str) -> Any:
    """Connect this process to the Ray cluster at ``address`` (``host:port`` or ``auto``); return ``ray``."""
    from ..deps import require

    ray = require("ray", extra="distributed")
    if ray.is_initialized():
        return ray
    if address != "auto":
        _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        raise ClusterError(f"Cannot connect to the Ray cluster at {address!r}: {str(exc).splitlines()[0]} "
                           "Start one with 'ray start --head' and pass the address it prints (ray status shows it), "
                           "or 'auto' for a cluster started on this machine.") from exc
    return ray


def preflight(address: str) -> None:
    """Before any heavy work: Ray is installed and something answers at ``address``."""
    from ..deps import check_installed

    check_installed("ray", extra="distributed")
    if address != "auto":
        _check_reachable(address)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A wrong address makes ``ray.init`` retry for minutes; a plain TCP connect answers in seconds."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(f"Ray address {address!r} is not HOST:PORT (for example 10.0.0.5:6379) or 'auto'.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(f"No Ray cluster answers at {address!r} ({exc.strerror or exc}). Check the address that "
                           "'ray start --head' printed (or 'ray status' on the head node), and that the port is "
                           "open from this machine.") from None


@dataclass
class RayExtraction:
    """How to compute features on a cluster; ``run`` returns ``{(output, view): array}``.

    Attributes:
        address: ``host:port`` of the head node, or ``auto``.
        files: Absolute image paths, one per row of ``pixels``; workers read them at the same path.
        spec_name, alpha, size: The backbone, as the driver built it.
        shard_images: Images per shard (a unit of work, of resume and of loss when a worker dies).
        worker_cpus: CPUs each worker actor reserves (and TensorFlow threads it uses).
        progress: Show a progress bar.
    """

    address: str
    files: list[str]
    spec_name: str
    alpha: float | None
    size: int
    shard_images: int = 256
    worker_cpus: int = 1
    progress: bool = True
    stats: dict[str, Any] = field(default_factory=dict)
    _tries: dict[tuple[int, int], int] = field(default_factory=dict)  # shards whose worker died, and how often

    def run(self, backbone: Any, pixels: np.ndarray, outputs: list[str], views: tuple[str, ...], *, batch_size: int,
            parts_dir: Path | None) -> dict[tuple[str, str], np.ndarray]:
        if len(self.files) != len(pixels):
            raise ValueError(f"{len(self.files)} files for {len(pixels)} decoded images")
        t0 = time.perf_counter()
        from ..deps import require

        was_connected = require("ray", extra="distributed").is_initialized()
        ray = connect(self.address)
        try:
            return self._run(ray, t0, backbone, pixels, outputs, views, batch_size, parts_dir)
        finally:
            if not was_connected:
                ray.shutdown()  # training goes on in this process; leave the cluster to others

    def _run(self, ray: Any, t0: float, backbone: Any, pixels: np.ndarray, outputs: list[str], views: tuple[str, ...],
             batch_size: int, parts_dir: Path | None) -> dict[tuple[str, str], np.ndarray]:
        shards = [(i, min(i + self.shard_images, len(pixels))) for i in range(0, len(pixels), self.shard_images)]
        done = {s: a for s in shards if (a := _load_part(parts_dir, s, outputs, views)) is not None}
        todo = deque(s for s in shards if s not in done)
        log.info("%d shards of up to %d images, %d already done", len(shards), self.shard_images, len(done))
        records: list[dict[str, Any]] = []
        workers: list[Any] = []
        resumed, t_ready = len(done), time.perf_counter()
        if todo:
            weights = ray.put(backbone.get_weights())
            job = {"spec": self.spec_name, "alpha": self.alpha, "size": self.size, "outputs": outputs,
                   "views": list(views), "batch_size": batch_size, "threads": self.worker_cpus}
            actor_cls = ray.remote(num_cpus=self.worker_cpus, max_restarts=0)(FeatureWorker)
            free_cpus = ray.available_resources().get("CPU", 0.0)
            n = max(1, min(len(todo), int(free_cpus // self.worker_cpus)))
            workers = self._start(ray, actor_cls, job, weights, n)
            started = list(workers)
            t_ready = time.perf_counter()
            def replace() -> list[dict[str, Any]]:
                new = self._start(ray, actor_cls, job, weights, 1)
                started.extend(new)
                return new

            self._schedule(ray, workers, todo, pixels, parts_dir, done, records, replace)
            for w in workers:
                ray.kill(w["actor"])
            workers = started
        self.stats = {"address": self.address, "workers": len(workers), "worker_cpus": self.worker_cpus,
                      "shards": len(shards), "resumed_shards": resumed, "shard_images": self.shard_images,
                      "start_s": round(t_ready - t0, 2), "total_s": round(time.perf_counter() - t0, 2),
                      "redone_shards": sum(self._tries.values()),
                      "nodes": sorted({w["info"]["host"] for w in workers}), "shard_records": records}
        return {(o, v): np.concatenate([done[s][f"{o}|{v}"] for s in shards]) for o in outputs for v in views}

    def _start(self, ray: Any, actor_cls: Any, job: dict, weights: Any, n: int) -> list[dict[str, Any]]:
        """Start ``n`` worker actors; keep those that report ready in time and match this machine's versions."""
        actors = [actor_cls.remote(job, weights) for _ in range(n)]
        refs = {a.info.remote(): a for a in actors}
        ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=START_TIMEOUT_S)
        for r in late:
            ray.kill(refs[r])
        mine = library_versions(*PINNED)
        workers, errors = [], []
        for r in ready:
            try:
                info = ray.get(r)
            except ray.exceptions.RayError as exc:
                errors.append(_first_line(exc))
                continue
            differ = {k: (mine.get(k), info["versions"].get(k)) for k in PINNED
                      if mine.get(k) != info["versions"].get(k)}
            if differ:
                ray.kill(refs[r])
                raise ClusterError(f"The Ray worker on {info['host']} has other versions than this machine "
                                   f"(here, there): {differ}. Install the same edgetl[train,distributed] on every "
                                   "node, or the features would differ from a local run.")
            workers.append({"actor": refs[r], "info": info})
        if not workers:
            why = errors[0] if errors else (f"none became ready within {START_TIMEOUT_S:.0f} s; each asks for "
                                            f"{self.worker_cpus} CPU(s) and the cluster has "
                                            f"{ray.available_resources().get('CPU', 0):g} free")
            raise ClusterError(f"No Ray worker could start: {why}. Check that edgetl[train,distributed] is installed "
                               "on every node ('ray status' lists the nodes and their free CPUs).")
        return workers

    def _schedule(self, ray: Any, workers: list[dict], todo: deque, pixels: np.ndarray, parts_dir: Path | None,
                  done: dict, records: list, replace: Any) -> None:
        """Keep every worker busy with one shard; a shard whose worker died goes back to the queue."""
        from rich.progress import Progress

        tries = self._tries
        idle = list(workers)
        inflight: dict[Any, tuple[dict, tuple[int, int], float]] = {}
        total = len(todo)
        with Progress(disable=not self.progress, transient=True) as bar:
            task = bar.add_task(f"features on Ray: {total} shards", total=total)
            while todo or inflight:
                while todo and idle:
                    w, s = idle.pop(), todo.popleft()
                    digest = hashlib.sha256(np.ascontiguousarray(pixels[s[0]:s[1]]).tobytes()).hexdigest()
                    ref = w["actor"].run.remote(self.files[s[0]:s[1]], digest)
                    inflight[ref] = (w, s, time.perf_counter())
                ready, _ = ray.wait(list(inflight), num_returns=1)
                w, s, t_sub = inflight.pop(ready[0])
                try:
                    arrays, rec = ray.get(ready[0])
                except ray.exceptions.RayTaskError as exc:  # our own code raised on the worker: not retried
                    raise DataError(f"Ray worker on {w['info']['host']} failed on images {s[0]}..{s[1] - 1}: "
                                    f"{_first_line(exc)}") from None
                except ray.exceptions.RayError as exc:  # the worker process or its node died
                    tries[s] = tries.get(s, 0) + 1
                    log.warning("worker on %s died during images %d..%d (%s); the shard goes back to the queue",
                                w["info"]["host"], s[0], s[1] - 1, _first_line(exc))
                    if tries[s] >= MAX_TRIES:
                        raise ClusterError(f"Ray workers died {tries[s]} times on images {s[0]}..{s[1] - 1} "
                                           f"({_first_line(exc)}). Check the nodes' memory ('ray status') and "
                                           "those image files.") from None
                    workers.remove(w)
                    todo.appendleft(s)
                    if not workers:
                        workers.extend(replace())
                        idle.extend(workers)
                    continue
                _save_part(parts_dir, s, arrays)
                done[s] = arrays
                records.append({**rec, "start": s[0], "stop": s[1], "wall_s": round(time.perf_counter() - t_sub, 3)})
                idle.append(w)
                bar.advance(task)


class FeatureWorker:
    """A Ray actor: builds the backbone once, then turns shards of image files into feature arrays."""

    def __init__(self, job: dict[str, Any], weights: list[np.ndarray]) -> None:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(int(job["threads"]))
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from ..backbones import build as B
        from ..backbones.specs import get_spec
        from ..backbones.weights import WeightsSource
        from ..train.features import extractor

        spec = get_spec(job["spec"])
        bb = B.build_backbone(spec, alpha=job["alpha"], size=job["size"], weights=WeightsSource("none")).model
        bb.set_weights(weights)
        self.job = job
        self.model = extractor(bb, B.preprocessing_layer(spec), (job["size"], job["size"], 3), job["outputs"])

    def info(self) -> dict[str, Any]:
        import os

        return {"host": socket.gethostname(), "pid": os.getpid(), "versions": library_versions(*PINNED)}

    def run(self, files: list[str], digest: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from ..data.images import ImageDecodeError, load_array
        from ..train.features import predict_arrays

        t = time.perf_counter()
        size = self.job["size"]
        pixels = np.empty((len(files), size, size, 3), np.uint8)
        for i, f in enumerate(files):
            try:
                pixels[i] = load_array(f, size)
            except (ImageDecodeError, OSError) as exc:
                raise DataError(f"cannot read {f} here ({exc}). The images must be at the same path on every "
                                "node (a shared folder).") from None
        if hashlib.sha256(pixels.tobytes()).hexdigest() != digest:
            raise DataError(f"the images {files[0]} .. {files[-1]} decode to other pixels here than on the driver: "
                            "the files at this path differ, or another Pillow is installed. Share one copy of the "
                            "data and the same package versions.")
        t_decode = time.perf_counter() - t
        out: dict[str, np.ndarray] = {}
        for view in self.job["views"]:
            src = pixels[:, :, ::-1] if view == "flip" else pixels
            arrays = predict_arrays(self.model, src, self.job["batch_size"])
            out.update({f"{o}|{view}": a for o, a in zip(self.job["outputs"], arrays)})
        return out, {"host": socket.gethostname(), "images": len(files), "decode_s": round(t_decode, 4),
                     "predict_s": round(time.perf_counter() - t - t_decode, 4)}


def _part_path(parts_dir: Path, shard: tuple[int, int]) -> Path:
    return parts_dir / f"{shard[0]:09d}-{shard[1]:09d}.npz"


def _save_part(parts_dir: Path | None, shard: tuple[int, int], arrays: dict[str, np.ndarray]) -> None:
    if parts_dir is None:
        return
    buf = io.BytesIO()
    np.savez(buf, **{k.replace("|", "@"): v for k, v in arrays.items()})  # npz names must be file-safe
    atomic_write_bytes(_part_path(parts_dir, shard), buf.getvalue())


def _load_part(parts_dir: Path | None, shard: tuple[int, int], outputs: list[str],
               views: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """A shard finished by an earlier, interrupted run; None when absent, incomplete or unreadable."""
    if parts_dir is None or not _part_path(parts_dir, shard).is_file():
        return None
    want = [f"{o}|{v}" for o in outputs for v in views]
    try:
        with np.load(_part_path(parts_dir, shard), allow_pickle=False) as z:
            arrays = {k: z[k.replace("|", "@")] for k in want}
    except (OSError, ValueError, KeyError):
        return None
    if any(a.shape[0] != shard[1] - shard[0] for a in arrays.values()):
        return None
    return arrays


def _first_line(exc: BaseException) -> str:
    """Ray's errors carry the worker's whole traceback; the last line says what happened."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    msg = lines[-1] if lines else type(exc).__name__
    return msg.split("DataError: ", 1)[-1]
