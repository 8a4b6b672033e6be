"""Activation-aware weight rounding (edgetl/quantize/rounding.py) on synthetic layers: numpy only."""
from __future__ import annotations

import numpy as np

from edgetl.quantize.rounding import channel_scales, gptq_round


def _layer(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out x in) with a few large weights on inputs that are small, and correlated inputs of
    very different sizes: the case where rounding to the nearest step with max-|w| scales is far from best."""
    rng = np.random.default_rng(seed)
    out, n = 24, 64
    w = rng.normal(0, 0.05, (out, n))
    sizes = np.where(np.arange(n) < 4, 0.05, rng.uniform(0.5, 3.0, n))  # 4 nearly silent inputs
    w[:, :4] *= 20  # the large weights sit on the silent inputs
    mix = rng.normal(0, 1, (n, n)) * 0.3 + np.eye(n)
    x = rng.normal(0, 1, (4000, n)) @ mix * sizes
    return w, x.T @ x / len(x)


def _err(w: np.ndarray, q: np.ndarray, s: np.ndarray, h: np.ndarray) -> float:
    e = w - q * s[:, None]
    return float(np.sum((e @ h) * e))


def test_scale_search_and_error_feedback_each_lower_the_output_error() -> None:
    w, h = _layer()
    plain_s = np.abs(w).max(1) / 127
    plain_q = np.clip(np.round(w / plain_s[:, None]), -127, 127)
    s = channel_scales(w, h)
    assert np.all(s <= plain_s + 1e-12) and np.any(s < 0.9 * plain_s)  # it clips the outliers on silent inputs
    clipped = _err(w, np.clip(np.round(w / s[:, None]), -127, 127), s, h)
    q = gptq_round(w, s, h)
    assert q.dtype == np.float64 and np.all(np.abs(q) <= 127) and np.all(q == np.round(q))
    full = _err(w, q, s, h)
    base = _err(w, plain_q, plain_s, h)
    assert clipped < 0.7 * base and full < 0.8 * clipped, (base, clipped, full)


def test_without_correlation_error_feedback_is_plain_rounding() -> None:
    """With uncorrelated inputs (diagonal H) there is nothing to compensate: GPTQ gives nearest rounding."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.1, (8, 32))
    s = np.abs(w).max(1) / 127
    h = np.diag(rng.uniform(0.5, 2.0, 32))
    assert np.array_equal(gptq_round(w, s, h), np.clip(np.round(w / s[:, None]), -127, 127))


def test_inputs_silent_on_the_sample_keep_their_weights() -> None:
    """An input that is zero on every calibration row may be alive on other photos (issue 29: a narrow model
    at a small input size): its weights are rounded like the quietest live input's, never set to zero."""
    w, h = _layer(2)
    h[5, :] = 0
    h[:, 5] = 0
    s = channel_scales(w, h)
    q = gptq_round(w, s, h)
    assert np.all(np.isfinite(q)) and np.any(q[:, 5] != 0)
    assert np.max(np.abs(q[:, 5] * s - w[:, 5]) / s) <= 1.0 + 1e-9  # within one step of the float weight


def test_a_layer_is_re_rounded_only_when_it_helps_on_held_back_inputs() -> None:
    from edgetl.quantize.rounding import _rewrite

    w, h = _layer(3)
    plain_s = np.abs(w).max(1) / 127
    plain_q = np.clip(np.round(w / plain_s[:, None]), -127, 127)
    assert _rewrite(w, plain_q, plain_s, (h, h), True) is not None  # fitted and held back alike: it helps
    # held-back inputs where the 'silent' inputs are loud: the clipping fitted on the sample hurts there
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (4000, w.shape[1])) * 3.0
    assert _rewrite(w, plain_q, plain_s, (h, x.T @ x / len(x)), True) is None


def test_onnx_calibration_chunks_divide_the_image_count() -> None:
    """ONNX Runtime's calibrator takes the images in equal chunks (it refuses a remainder) of at most 16."""
    from edgetl.formats.onnx.int8 import CALIBRATION_CHUNK, _chunk

    for n in (1, 7, 16, 17, 200, 199, 1000):
        c = _chunk(n)
        assert n % c == 0 and 1 <= c <= CALIBRATION_CHUNK
    assert _chunk(200) == 10 and _chunk(199) == 1 and _chunk(48) == 16
