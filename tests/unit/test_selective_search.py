"""The float-layer search's stopping rules, on pure-Python candidates (no model: the search is generic)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from edgetl.quantize.selective import closer_z, kl_per_image, paired_latency_ms, search

N = 400  # validation images of the synthetic candidates
PLAIN_KL = np.random.default_rng(0).gamma(0.5, 0.01, N)  # the plain artifact's per-image KL: heavy-tailed


def _work(n: int) -> Callable[[], Any]:
    return lambda: sum(range(n))


def _evaluate(agreement_by_k: Any, cost_by_k: Any, kl_factor_by_k: dict[int, float] | None = None
              ) -> Callable[[bytes], Any]:
    """Candidates with k float layers (agreement and cost: dicts or functions of k); their per-image KL is the
    plain one's times a factor (default 0.5)."""
    agree = agreement_by_k.__getitem__ if isinstance(agreement_by_k, dict) else agreement_by_k
    cost = cost_by_k.__getitem__ if isinstance(cost_by_k, dict) else cost_by_k

    def evaluate(data: bytes) -> tuple[float, float, Callable[[], Any], np.ndarray]:
        k = int(data.decode())
        return 0.9, agree(k), _work(cost(k)), PLAIN_KL * (kl_factor_by_k or {}).get(k, 0.5)
    return evaluate


def test_kl_per_image_is_zero_for_the_same_outputs_and_grows_with_the_change() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    assert np.allclose(kl_per_image(p, p), 0.0)
    near, far = kl_per_image(p, p[:, ::-1] * 0.1 + p * 0.9), kl_per_image(p, p[:, ::-1])
    assert np.all(far > near) and np.all(near > 0) and np.isfinite(far).all()  # a 0 probability stays finite


def test_one_photo_better_is_never_measurably_closer() -> None:
    """A candidate that differs from the plain artifact on one image only is about 1 standard error closer, however
    large that image's change: the count of 2 vs 3 disagreeing photos that picked percentile ranges on flowers."""
    for gain in (1e-3, 1.0, 100.0):
        cand_kl = PLAIN_KL.copy()
        cand_kl[7] = PLAIN_KL[7] + gain  # the plain artifact worse on that one image
        assert closer_z(cand_kl, PLAIN_KL) < 1.01
    assert closer_z(PLAIN_KL, PLAIN_KL) == 0.0
    assert closer_z(PLAIN_KL, PLAIN_KL * 0.8) > 5  # closer on every image: far beyond noise
    assert closer_z(PLAIN_KL, PLAIN_KL * 1.2) < -5


def test_a_candidate_within_the_budget_but_not_measurably_closer_is_not_taken() -> None:
    res = search(lambda layers: str(len(layers)).encode(),
                 _evaluate({1: 1.0, 2: 1.0}, {1: 5000, 2: 5000}, {1: 1.0, 2: 0.5}),
                 ranked=["a", "b"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert "not measurably closer" in res.tried[0]["note"] and res.tried[0]["closer_z"] == 0.0
    assert res.chosen is not None and res.chosen.float_layers == ["a", "b"] and res.chosen.closer_z > 2


def test_paired_timing_ranks_more_work_as_slower() -> None:
    slow, fast = paired_latency_ms(_work(40_000), _work(4_000), runs=10, rounds=2)
    assert slow > 3 * fast > 0


def test_search_stops_at_the_first_candidate_within_the_budget() -> None:
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 0.98, 2: 0.999, 4: 1.0}, {1: 5000, 2: 5000, 4: 5000}),
                 ranked=["a", "b", "c", "d"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert res.chosen is not None and res.chosen.float_layers == ["a", "b"]
    assert [t["float_layers"] for t in res.tried] == [1, 2] and res.tried[1]["latency_vs_int8"] < 3.0


def test_search_stops_when_a_candidate_timed_beside_the_plain_one_is_too_slow() -> None:
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 0.98, 2: 1.0}, {1: 5000, 2: 50_000}),
                 ranked=["a", "b"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert res.chosen is None and "2 float layer(s)" in res.reason and "timed beside it" in res.reason
    assert res.tried[-1]["latency_vs_int8"] > 3.0


def test_a_float_model_faster_than_the_limit_lowers_it() -> None:
    """The float model at 1.1x the plain int8 one: a candidate at 2x is refused even under max_slowdown 3."""
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 1.0}, {1: 10_000}),
                 ranked=["a"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=1.1, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert res.chosen is None and "1.10x" in res.reason


def test_bisection_finds_a_count_under_the_latency_limit_when_the_doubling_overshoots() -> None:
    """8 float layers miss the budget, 16 meet it but are too slow: 12 meet it in time and are taken."""
    res = search(lambda layers: str(len(layers)).encode(),
                 _evaluate(lambda k: 1.0 if k >= 12 else 0.98, lambda k: 60_000 if k >= 16 else 5000),
                 ranked=[f"l{i}" for i in range(40)], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert [(t["float_layers"], t["step"]) for t in res.tried] == [
        (1, "doubling"), (2, "doubling"), (4, "doubling"), (8, "doubling"), (16, "doubling"),
        (12, "bisection"), (10, "bisection"), (11, "bisection")]
    assert res.chosen is not None and len(res.chosen.float_layers) == 12 and res.chosen.latency_ratio < 3.0


def test_bisection_takes_fewer_float_layers_when_they_suffice() -> None:
    res = search(lambda layers: str(len(layers)).encode(), _evaluate(lambda k: 1.0 if k >= 3 else 0.98, lambda k: 5000),
                 ranked=[f"l{i}" for i in range(8)], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0, plain_kl=PLAIN_KL)
    assert [t["float_layers"] for t in res.tried] == [1, 2, 4, 3]
    assert res.chosen is not None and res.chosen.float_layers == ["l0", "l1", "l2"] and "3 layer(s)" in res.reason


def test_a_latency_refusal_is_confirmed_by_two_more_timings() -> None:
    """One paired timing decides a candidate under the limit; one over it is timed twice more, the median
    of the three deciding (a noisy VM must not end the search on one timing)."""
    from edgetl.quantize.selective import confirmed_ratio

    _, _, under = confirmed_ratio(_work(5000), _work(5000), limit=3.0)
    assert len(under) == 1
    lat, base, over = confirmed_ratio(_work(50_000), _work(5000), limit=3.0)
    assert len(over) == 3 and all(r > 3.0 for r in over) and lat / base == pytest.approx(sorted(over)[1], abs=1e-3)
