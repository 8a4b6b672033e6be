"""The benchmark's plots (inline SVG): latency vs accuracy with estimated boards beside measured ones, size vs
latency, latency distributions. Labels are placed so that they do not print over each other."""
from __future__ import annotations

import io
from typing import Any

FONT = 7  # points
# where a label may go, in points from its marker: right and above first, then below, left, further out
OFFSETS = [(4, 3), (4, -9), (-4, 3), (-4, -9), (4, 12), (4, -18), (-4, 12), (-4, -18), (4, 21), (4, -27),
           (-4, 21), (-4, -27)]


def svg(fig: Any) -> str:
    """A matplotlib figure as inline SVG markup (the figure is closed)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def label_groups(xy: list[tuple[float, float]], names: list[str], near: float = 0.04) -> list[tuple[tuple[float, float], str]]:
    """One label per cluster of points closer than ``near`` (a fraction of the axis ranges): nearby points
    such as int8 and uint8 share one label ("int8, uint8") instead of printing over each other."""
    if not xy:
        return []
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    sx, sy = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    groups: list[list[int]] = []
    for i, (x, y) in enumerate(xy):
        for g in groups:
            gx, gy = xy[g[0]]
            if abs(x - gx) / sx < near and abs(y - gy) / sy < near:
                g.append(i)
                break
        else:
            groups.append([i])
    return [(xy[g[0]], ", ".join(dict.fromkeys(names[i] for i in g))) for g in groups]


def pareto(points: list[tuple[float, float, int]]) -> list[int]:
    """Indices on the front of (latency lower is better, accuracy higher is better)."""
    front, best = [], -1.0
    for lat, acc, i in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append(i)
            best = acc
    return front


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax: Any, labels: list[tuple[tuple[float, float], str]]) -> list[tuple[float, ...]]:
    """Annotate each point, choosing among :data:`OFFSETS` the spot whose text box overlaps the labels already
    placed (and the markers) least; points at one accuracy and close latencies get labels above and below
    instead of one over another. Returns the boxes (display pixels), for tests."""
    ax.autoscale_view()
    scale = ax.figure.dpi / 72.0
    pts = [tuple(ax.transData.transform(p)) for p, _ in labels]
    r = 3 * scale
    taken: list[tuple[float, ...]] = [(x - r, y - r, x + r, y + r) for x, y in pts]
    for (p, text), (px, py) in zip(labels, pts):
        w, h = 0.56 * FONT * scale * max(len(text), 1), 1.15 * FONT * scale
        best = None
        for dx, dy in OFFSETS:
            x0 = px + dx * scale - (w if dx < 0 else 0.0)
            box = (x0, py + dy * scale, x0 + w, py + dy * scale + h)
            cost = sum(_overlap(box, t) for t in taken)
            if best is None or cost < best[0]:
                best = (cost, dx, dy, box)
            if cost == 0:
                break
        assert best is not None
        _, dx, dy, box = best
        taken.append(box)
        ax.annotate(text, p, fontsize=FONT, xytext=(dx, dy), textcoords="offset points",
                    ha="right" if dx < 0 else "left", va="bottom")
    return taken[len(pts):]


def _finish(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # no legend (and no matplotlib warning) for an empty plot
        ax.legend(fontsize=8)


def plots(rows: list[dict[str, Any]]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # labels stay text (selectable, searchable, checked in a browser); names are plain text, never mathtext:
    # a device called "$\\foo$" would otherwise make matplotlib's parser raise and the page go unwritten
    with matplotlib.rc_context({"svg.fonttype": "none", "text.parse_math": False, "text.usetex": False}):
        clipped = [{**r, **{k: _clip(r.get(k)) for k in ("device", "target")}} for r in rows]
        return {"latency_accuracy": _latency_accuracy(clipped, plt), **_size_and_spread(clipped, plt)}


def _clip(name: Any, n: int = 60) -> str:
    s = str(name)
    return s if len(s) <= n else s[:n] + "..."


def _name(r: dict[str, Any]) -> str:
    return f"{r['target']} t{r['threads']}"


def _latency_accuracy(rows: list[dict[str, Any]], plt: Any) -> str:
    """Measured rows as filled markers with each device's Pareto front; boards that were estimated as hollow
    markers with the estimate's range as a horizontal bar, at the accuracy the artifact measured elsewhere."""
    ok = [r for r in rows if r["status"] == "ok" and r.get("p50_ms") and r.get("accuracy") is not None]
    acc_of = {r.get("artifact"): r["accuracy"] for r in rows if r.get("accuracy") is not None}
    est = [r for r in rows if not r.get("p50_ms") and isinstance(r.get("estimate"), dict)
           and r["estimate"].get("p50_ms") and acc_of.get(r.get("artifact")) is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels: list[tuple[tuple[float, float], str]] = []
    for dev in sorted({r["device"] for r in ok}):
        mine = [r for r in ok if r["device"] == dev]
        xy = [(r["p50_ms"], r["accuracy"]) for r in mine]
        ax.scatter([p[0] for p in xy], [p[1] for p in xy], label=dev)
        labels += label_groups(xy, [_name(r) for r in mine])
        front = sorted(xy[i] for i in pareto([(x, y, i) for i, (x, y) in enumerate(xy)]))
        ax.plot([f[0] for f in front], [f[1] for f in front], "--", linewidth=1, label=f"{dev} Pareto front")
    for dev in sorted({r["device"] for r in est}):
        mine = [r for r in est if r["device"] == dev]
        e = [r["estimate"] for r in mine]
        xy = [(x["p50_ms"], acc_of[r["artifact"]]) for x, r in zip(e, mine)]
        lo = [max(p[0] - float(x.get("p50_ms_low", p[0])), 0.0) for p, x in zip(xy, e)]
        hi = [max(float(x.get("p50_ms_high", p[0])) - p[0], 0.0) for p, x in zip(xy, e)]
        bars = ax.errorbar([p[0] for p in xy], [p[1] for p in xy], xerr=[lo, hi], fmt="o", mfc="none", capsize=3,
                           linewidth=1, label=f"{dev} (estimate, range)")
        bars[0].set_markeredgewidth(1.2)
        labels += label_groups(xy, [_name(r) for r in mine])
    place_labels(ax, labels)
    _finish(ax, "p50 latency (ms); estimates: central value and range", "top-1 accuracy", "Latency vs accuracy")
    return svg(fig)


def _size_and_spread(rows: list[dict[str, Any]], plt: Any) -> dict[str, str]:
    ok = [r for r in rows if r["status"] == "ok" and r.get("p50_ms")]
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels: list[tuple[tuple[float, float], str]] = []
    for dev in sorted({r["device"] for r in ok}):
        sel = [r for r in ok if r["device"] == dev]
        xy = [(r["size_bytes"] / 1e6, r["p50_ms"]) for r in sel]
        ax.scatter([p[0] for p in xy], [p[1] for p in xy], label=dev)
        labels += label_groups(xy, [_name(r) for r in sel])
    place_labels(ax, labels)
    _finish(ax, "file size (MB)", "p50 latency (ms)", "Size vs latency")
    out["size_latency"] = svg(fig)
    dist = [r for r in ok if r.get("latencies_ms")]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.35 * len(dist) + 1)))
    if dist:
        ax.boxplot([r["latencies_ms"] for r in dist], orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(dist) + 1), [f"{r['device']} {_name(r)}" for r in dist], fontsize=7)
    ax.set_xlabel("latency per inference (ms)")
    ax.set_title("Latency distributions")
    ax.grid(alpha=0.3, axis="x")
    out["latency_distribution"] = svg(fig)
    return out
