"""A latency cost model for CPUs: per op class, per core type, per runtime and precision, fitted on published runs.

For a model with per-class work ``w`` (millions of MACs of dense/pointwise convolution, depthwise convolution and
fully connected layers; millions of elements written by the costly element-wise ops, ACTIVATION_OPS, and by the
other layers) on ``n`` threads of a CPU whose cores
run at ``f`` GHz and do ``m`` multiply-accumulates per cycle at peak (``CORES``)::

    ms = R[runtime] * P[precision] * sum_c(k_c * w_c) / (f * m * u[core] * S(n))  +  k_op * ops / f

- ``k_c``: cycles per MAC (per element for the rest) relative to peak, per op class: depthwise convolutions and
  element-wise layers are memory-bound and run far below peak, dense convolutions close to it;
- ``u[core]``: how far a core type's achieved rate is from its nominal ``m`` (fitted, pulled to 1 for core types
  with few anchors: a core type without anchors gets its nominal peak);
- ``S(n) = n / (1 + s * (n - 1))``: thread scaling, ``s`` fitted only on devices published at several thread counts;
- ``R``: the runtime (XNNPACK is the reference), ``P``: int8 against fp32, apart for cores with and without the
  Armv8.2 dot-product instructions; ``k_op``: a fixed cost per operator (dispatch, small layers).

The fit minimises squared log errors (robust), so every anchor counts by its relative error. Ranges printed with
an estimate come from leave-one-device-out residuals (``benchmarks/estimator_cv.py``), not from the fit's own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Nominal fp32 multiply-accumulates per cycle per core (NEON/ASIMD pipes x lanes), from the cores' public
# optimization guides; the fit corrects them per core type where anchors exist.
CORES: dict[str, dict[str, Any]] = {
    "cortex-a7": {"macs_per_cycle": 2, "dot": False},     # one 64-bit NEON FMA pipe
    "cortex-a53": {"macs_per_cycle": 4, "dot": False},    # 64-bit NEON, dual issue
    "cortex-a55": {"macs_per_cycle": 4, "dot": True},
    "cortex-a57": {"macs_per_cycle": 4, "dot": False},    # one 128-bit FMA per cycle
    "cortex-a72": {"macs_per_cycle": 4, "dot": False},
    "cortex-a73": {"macs_per_cycle": 4, "dot": False},
    "kryo": {"macs_per_cycle": 4, "dot": False},          # Snapdragon 820/821
    "kryo-280": {"macs_per_cycle": 4, "dot": False},      # Snapdragon 835 (Cortex-A73 based)
    "cortex-a75": {"macs_per_cycle": 8, "dot": True},     # two 128-bit FMA pipes from here on
    "cortex-a76": {"macs_per_cycle": 8, "dot": True},
    "cortex-a77": {"macs_per_cycle": 8, "dot": True},
    "cortex-a78": {"macs_per_cycle": 8, "dot": True},
    "cortex-a78ae": {"macs_per_cycle": 8, "dot": True},
    "cortex-a710": {"macs_per_cycle": 8, "dot": True},
    "cortex-a720": {"macs_per_cycle": 8, "dot": True},
    "neoverse-n1": {"macs_per_cycle": 8, "dot": True},
    "cortex-x1": {"macs_per_cycle": 16, "dot": True},     # four 128-bit FMA pipes
}
CLASSES = ("conv", "depthwise", "fc", "other", "act")
PRIOR_K_FC, PRIOR_K_OTHER, PRIOR_K_OP = 4.0, 4.0, 0.01  # cycles per weight / per element; ms x GHz per op
PRIOR_K_ACT = 8.0  # cycles per element of hard-swish, sigmoid, softmax and squeeze-and-excitation's scaling
# the element-wise ops that cost more than an add or a clip: several instructions per element (hard-swish is a
# clip, an add, two multiplies; a sigmoid a polynomial), or a broadcast multiply (squeeze-and-excitation)
ACTIVATION_OPS = {"HARD_SWISH", "LOGISTIC", "SOFTMAX", "MUL", "HardSwish", "HardSigmoid", "Sigmoid", "Softmax",
                  "Mul", "Multiply", "multiply", "hard_swish", "hard_sigmoid", "sigmoid", "softmax", "swish", "silu",
                  "hard_silu", "HardSwish"}
RUNTIMES = ("xnnpack", "tflite-cpu", "ncnn", "onnxruntime")
CONV_RUNTIMES = ("xnnpack", "tflite-cpu", "onnxruntime")  # their dense-convolution factor against ncnn's
# profile runtime -> cost-model runtime (LiteRT runs float and int8 models through XNNPACK by default)
PROFILE_RUNTIMES = {"litert": "xnnpack", "tflite": "xnnpack", "onnxruntime": "onnxruntime"}
_FUSED = {"BatchNormalization", "ReLU", "Activation", "Dropout", "InputLayer", "Rescaling", "Normalization",
          "QUANTIZE", "DEQUANTIZE", "RESHAPE", "Reshape", "Flatten", "Identity", "Relu", "Clip", "Squeeze",
          "Unsqueeze", "Shape", "Gather", "Constant", "Cast", "QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class Work:
    """A model's work per op class (millions) and its operator count."""
    conv: float
    depthwise: float
    fc: float
    other: float
    ops: int
    act: float = 0.0  # millions of elements written by ACTIVATION_OPS (counted apart from ``other``)

    def vector(self) -> np.ndarray:
        return np.array([self.conv, self.depthwise, self.fc, self.other, self.act], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"conv_mmacs": round(self.conv, 2), "depthwise_mmacs": round(self.depthwise, 2),
                "fc_mmacs": round(self.fc, 2), "other_melements": round(self.other, 2),
                "activation_melements": round(self.act, 3), "ops": self.ops}


def op_class(op: str, macs: int, output_shape: tuple[int, ...]) -> str:
    """conv, depthwise, fc or other, from an op or layer name of any format (TFLite, ONNX, Keras)."""
    if op in ("DEPTHWISE_CONV_2D", "DepthwiseConv2D", "Conv(depthwise)"):
        return "depthwise"
    if op in ("CONV_2D", "Conv2D", "Conv", "ConvInteger", "QLinearConv", "TRANSPOSE_CONV", "Conv2DTranspose",
              "SeparableConv2D"):
        return "conv"
    if op in ("FULLY_CONNECTED", "BATCH_MATMUL", "Dense", "Gemm", "MatMul", "MatMulInteger", "EinsumDense"):
        return "fc"
    if op in ACTIVATION_OPS:
        return "act"
    return "other"


def work_of(report: Any) -> Work:
    """Per-class work of an analyzed model (``ModelReport``)."""
    acc = dict.fromkeys(CLASSES, 0.0)
    ops = 0
    for layer in report.layers:
        if layer.op in _FUSED:
            continue
        c = op_class(layer.op, layer.macs, layer.output_shape)
        ops += 1
        if c in ("other", "act"):
            acc[c] += float(np.prod(layer.output_shape)) if layer.output_shape else 0.0
        else:
            acc[c] += layer.macs
    return Work(acc["conv"] / 1e6, acc["depthwise"] / 1e6, acc["fc"] / 1e6, acc["other"] / 1e6, ops, acc["act"] / 1e6)


DEFAULT_CORES, DEFAULT_CLOCK_GHZ = 4, 1.5  # what a profile that gives only peak_gflops_fp32 is assumed to have
TYPICAL_MACS_PER_CYCLE = 4.0  # a core not named: the 64-bit NEON class (A53, A55, A72, A73) of 19 of the 27
# devices in anchor_devices.yaml
# what a profile tells about its CPU, from most to least; the printed range widens as it says less (the bands
# per basis come from the cross-validation, benchmarks/estimator_cv.py)
BASES = ("core", "peak", "clock", "peak-only")


@dataclass(frozen=True)
class Cpu:
    """What the cost model needs to know about a CPU target, and how much of it the profile said (``basis``)."""
    core: str
    cores: int
    clock_ghz: float
    macs_per_cycle: float
    dot: bool
    known_core: bool
    basis: str = "core"


def _number(hw: dict[str, Any], key: str) -> float | None:
    v = hw.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(key)
    return float(v)


def cpu_from_hardware(hw: dict[str, Any]) -> tuple[Cpu | None, str]:
    """A CPU description from a profile's ``hardware:`` block, or None and a one-line reason.

    - a known ``core`` with ``cores`` and ``clock_ghz``: its nominal peak per cycle (basis ``core``);
    - ``peak_gflops_fp32`` with ``cores`` and ``clock_ghz`` (a core edgetl does not list): ``peak``;
    - ``cores`` and ``clock_ghz`` alone: a typical core's rate per cycle (``clock``, a wider range);
    - ``peak_gflops_fp32`` alone: spread over DEFAULT_CORES at DEFAULT_CLOCK_GHZ (``peak-only``, the widest).
    """
    core = str(hw.get("core") or "").strip().lower()
    try:
        cores, clock, peak = _number(hw, "cores"), _number(hw, "clock_ghz"), _number(hw, "peak_gflops_fp32")
    except ValueError as exc:
        return None, f"hardware: {exc} must be a number"
    spec = CORES.get(core)
    if core and spec is None and not peak and not (cores and clock):
        return None, (f"core {core!r} is not one edgetl knows ({', '.join(sorted(CORES))}); give "
                      "peak_gflops_fp32, or cores and clock_ghz")
    if not peak and not (cores and clock):
        missing = [k for k in ("cores", "clock_ghz") if not hw.get(k)]
        return None, (f"its hardware: block lacks {', '.join(missing)} (for example core: cortex-a72, cores: 4, "
                      "clock_ghz: 1.5; or peak_gflops_fp32)")
    n, f = int(cores or DEFAULT_CORES), float(clock or DEFAULT_CLOCK_GHZ)
    if n < 1 or not 0.05 <= f <= 10:
        return None, f"hardware: cores {n} or clock_ghz {f} is out of range"
    dot = bool(hw.get("int8_dot_product", spec["dot"] if spec else False))
    if spec is not None and cores and clock:
        return Cpu(core, n, f, float(spec["macs_per_cycle"]), dot, True, "core"), ""
    if peak:
        basis = "peak" if cores and clock else "peak-only"
        return Cpu(core or "unknown", n, f, peak / (2 * n * f), dot, False, basis), ""  # FLOP = 2 x MAC
    return Cpu(core or "unknown", n, f, TYPICAL_MACS_PER_CYCLE, dot, False, "clock"), ""


# ---------------------------------------------------------------------------------------------------------------
# parameters: log k_c (4), log k_op, logit s, log R (runtimes but xnnpack), log P (4 int8 cases), log u (per core)


@dataclass
class CostModel:
    k: dict[str, float]          # class -> cycles per MAC at nominal peak (relative)
    k_op: float                  # ms x GHz per operator
    s: float                     # thread-scaling serial fraction
    runtime: dict[str, float]    # runtime -> factor (xnnpack 1)
    int8: dict[str, float]       # "<runtime group>/<dot|nodot>" -> factor against fp32
    core_factor: dict[str, float]
    conv_runtime: dict[str, float] = field(default_factory=dict)  # runtime -> dense-conv factor (ncnn 1)
    log_q10: float = -0.3        # held-out residual quantiles (log): the printed range
    log_q90: float = 0.3
    bands: dict[str, list[float]] = field(default_factory=dict)  # basis -> [q10, q90] (BASES; "core" = q10, q90)

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "k_op": self.k_op, "s": self.s, "runtime": self.runtime, "int8": self.int8,
                "core_factor": self.core_factor, "conv_runtime": self.conv_runtime, "log_q10": self.log_q10,
                "log_q90": self.log_q90, "bands": self.bands}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CostModel":
        return cls(dict(d["k"]), float(d["k_op"]), float(d["s"]), dict(d["runtime"]), dict(d["int8"]),
                   dict(d["core_factor"]), dict(d.get("conv_runtime") or {}), float(d.get("log_q10", -0.3)),
                   float(d.get("log_q90", 0.3)), {str(k): [float(x) for x in v] for k, v in (d.get("bands") or {}).items()})

    def band(self, cpu: Cpu) -> tuple[float, float]:
        """The printed range's log quantiles for ``cpu``: the leave-one-device-out band for a core type with anchors,
        wider ones for a core type without (``unseen-core``) and for profiles that say less (``cpu.basis``)."""
        basis = cpu.basis
        if basis == "core" and cpu.core not in self.core_factor:
            basis = "unseen-core"
        if basis in self.bands:
            q = self.bands[basis]
            return float(q[0]), float(q[1])
        if self.bands and basis != "core":
            return min(q[0] for q in self.bands.values()), max(q[1] for q in self.bands.values())
        return self.log_q10, self.log_q90

    def scaling(self, threads: int) -> float:
        return threads / (1.0 + self.s * (threads - 1))

    def predict_ms(self, work: Work, cpu: Cpu, *, threads: int, runtime: str, precision: str) -> float:
        dense, memory, per_op = self.parts_ms(work, cpu, threads=threads, runtime=runtime)
        f = self.int8.get(_int8_key(runtime, cpu.dot), 1.0) if precision == "int8" else 1.0
        return f * (dense + memory) + per_op

    def parts_ms(self, work: Work, cpu: Cpu, *, threads: int, runtime: str) -> np.ndarray:
        """fp32 time of the MAC-dense part (convolutions, fully connected), of the memory-bound part (depthwise,
        element-wise) and of the per-op overhead: what a device calibration scales apart."""
        n = max(1, min(threads, cpu.cores))
        rate = cpu.clock_ghz * cpu.macs_per_cycle * self.core_factor.get(cpu.core, 1.0) * self.scaling(n)
        f = self.runtime.get(runtime, 1.0) / rate
        conv = self.k["conv"] * work.conv * self.conv_runtime.get(runtime, 1.0)
        dense = f * (conv + self.k["fc"] * work.fc)
        memory = f * (self.k["depthwise"] * work.depthwise + self.k["other"] * work.other
                      + self.k.get("act", self.k["other"]) * work.act)
        return np.array([dense, memory, self.k_op * work.ops / cpu.clock_ghz])


def _int8_key(runtime: str, dot: bool) -> str:
    group = "ncnn" if runtime == "ncnn" else "tflite"
    if runtime == "tflite-cpu":  # TFLite's kernels before XNNPACK (2018-2020) did not use the dot-product ops
        dot = False
    return f"{group}/{'dot' if dot else 'nodot'}"


# the "dot" factors are parametrized relative to "nodot" (a prior of 1: no slower than without the instructions)
INT8_KEYS = ("tflite/nodot", "tflite/dot", "ncnn/nodot", "ncnn/dot")


@dataclass(frozen=True)
class Row:
    work: Work
    cpu: Cpu
    threads: int
    runtime: str
    precision: str
    ms: float
    device: str
    source: str
    model: str
    id: str


def _unpack(theta: np.ndarray, cores: list[str]) -> CostModel:
    k = dict(zip(CLASSES[:4], np.exp(theta[0:4])))
    k_op = float(np.exp(theta[4]))
    s = float(1 / (1 + np.exp(-theta[5])))
    runtime = {"xnnpack": 1.0, **dict(zip(RUNTIMES[1:], np.exp(theta[6:9])))}
    t8 = theta[9:13]
    int8 = dict(zip(INT8_KEYS, np.exp([t8[0], t8[0] + t8[1], t8[2], t8[2] + t8[3]])))
    k["act"] = float(np.exp(theta[16]))
    core_factor = dict(zip(cores, np.exp(theta[17:])))
    conv_runtime = {"ncnn": 1.0, **dict(zip(CONV_RUNTIMES, np.exp(theta[13:16])))}
    return CostModel({c: float(v) for c, v in k.items()}, k_op, s, {r: float(v) for r, v in runtime.items()},
                     {r: float(v) for r, v in int8.items()}, {c: float(v) for c, v in core_factor.items()},
                     {r: float(v) for r, v in conv_runtime.items()})


def fit(rows: list[Row], *, ridge: float = 2.0) -> CostModel:
    """Fit the cost model on CPU anchors; runtimes and int8 cases without rows keep factor 1 (the prior)."""
    cores = sorted({r.cpu.core for r in rows})
    seen_rt = {r.runtime for r in rows}
    seen_int8 = {_int8_key(r.runtime, r.cpu.dot) for r in rows if r.precision == "int8"}
    s = fit_thread_scaling(rows)
    s_logit = math.log(s / (1 - s))
    theta0 = np.concatenate([np.log([1.5, 6.0, 3.0, 2.0]), [np.log(0.002)], np.zeros(3), np.zeros(4),
                             np.zeros(3), [np.log(PRIOR_K_ACT)], np.zeros(len(cores))])
    idx_core = {c: 17 + i for i, c in enumerate(cores)}
    n_core = {c: sum(1 for r in rows if r.cpu.core == c) for c in cores}
    obs = np.log([r.ms for r in rows])

    def residuals(theta: np.ndarray) -> np.ndarray:
        theta = np.concatenate([theta[:5], [s_logit], theta[5:]])
        m = _unpack(theta, cores)
        pred = np.array([m.predict_ms(r.work, r.cpu, threads=r.threads, runtime=r.runtime, precision=r.precision)
                         for r in rows])
        res = list(np.log(pred) - obs)
        # physical priors: an element-wise op costs a few cycles per element, a fully connected layer at batch 1
        # is bound by reading its weights, and every op a few microseconds (without them the fit uses the small
        # classes as proxies for whatever the big ones miss, and a model from another exporter is mispredicted)
        for j, prior, weight in ((2, PRIOR_K_FC, 0.5), (3, PRIOR_K_OTHER, 2.0), (4, PRIOR_K_OP, 0.5),
                                 (16, PRIOR_K_ACT, 1.0)):
            res.append((theta[j] - math.log(prior)) * weight)
        for c in cores:  # core factors shrink to 1 when a core type has few anchors
            res.append(theta[idx_core[c]] * math.sqrt(ridge / max(1, n_core[c])) * 3)
        for i, rt in enumerate(RUNTIMES[1:]):  # factors without rows stay at 1; the others are pulled weakly to 1
            res.append(theta[6 + i] * (0.3 if rt in seen_rt else 100))
        for i, key in enumerate(INT8_KEYS):
            res.append(theta[9 + i] * (0.3 if key in seen_int8 else 100))
        for i, rt in enumerate(CONV_RUNTIMES):  # dense convolutions: Winograd in ncnn, GEMM in XNNPACK
            res.append(theta[13 + i] * (0.3 if rt in seen_rt else 100))
        return np.array(res)

    x = _levenberg_marquardt(residuals, theta0, n_data=len(rows))
    model = _unpack(np.concatenate([x[:5], [s_logit], x[5:]]), cores)
    for rt in RUNTIMES:  # a runtime without anchors (ONNX Runtime's MLAS: GEMM kernels) is taken as XNNPACK
        if rt not in seen_rt:
            model.runtime[rt] = model.runtime["xnnpack"]
            model.conv_runtime[rt] = model.conv_runtime["xnnpack"]
    return model


def _levenberg_marquardt(fun: Any, x0: np.ndarray, *, n_data: int, f_scale: float = 0.15, iters: int = 200
                         ) -> np.ndarray:
    """Robust (soft-L1, by reweighting the data residuals) Levenberg-Marquardt with a numerical Jacobian."""
    x, lam = x0.astype(float).copy(), 1e-2

    def weighted(x: np.ndarray) -> np.ndarray:
        r = fun(x)
        w = np.ones_like(r)
        w[:n_data] = (1 + (r[:n_data] / f_scale) ** 2) ** -0.25  # sqrt of the soft-L1 IRLS weight
        return r * w

    r = weighted(x)
    cost = float(r @ r)
    for _ in range(iters):
        eps = 1e-6
        jac = np.empty((r.size, x.size))
        for j in range(x.size):
            xp = x.copy()
            xp[j] += eps
            jac[:, j] = (weighted(xp) - r) / eps
        g, h = jac.T @ r, jac.T @ jac
        improved = False
        for _ in range(20):
            step = np.linalg.solve(h + lam * np.diag(np.diag(h) + 1e-9), -g)
            r_new = weighted(x + step)
            c_new = float(r_new @ r_new)
            if c_new < cost:
                x, r, lam, improved = x + step, r_new, max(lam / 3, 1e-9), True
                done = cost - c_new < 1e-10 * max(cost, 1e-12)
                cost = c_new
                break
            lam *= 4
        if not improved or done:
            break
    return x


def fit_thread_scaling(rows: list[Row], default: float = 0.15) -> float:
    """The serial fraction ``s`` of S(n) = n / (1 + s (n - 1)), from devices published at several thread counts
    only: the ratio of a model's time at n threads to its time at one thread on the same device and runtime."""
    groups: dict[tuple, dict[int, float]] = {}
    for r in rows:
        groups.setdefault((r.device, r.runtime, r.model, r.precision), {})[r.threads] = r.ms
    pairs = [(n, g[1] / t) for g in groups.values() if 1 in g for n, t in g.items() if n > 1]
    if not pairs:
        return default
    grid = np.linspace(0.0, 0.9, 181)
    err = [sum((math.log(sp) - math.log(n / (1 + s * (n - 1)))) ** 2 for n, sp in pairs) for s in grid]
    return float(grid[int(np.argmin(err))])


def relative_errors(model: CostModel, rows: list[Row]) -> np.ndarray:
    pred = np.array([model.predict_ms(r.work, r.cpu, threads=r.threads, runtime=r.runtime, precision=r.precision)
                     for r in rows])
    return np.log(pred / np.array([r.ms for r in rows]))
