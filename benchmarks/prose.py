"""Every figure in the prose of README.md and docs/*.md is accounted for in ``benchmarks/figures.yaml``.

    python benchmarks/prose.py           # list the figures that the ledger does not cover (a draft entry each)
    python benchmarks/results.py --check # fails on any of them, and on a measured figure its raw file no longer gives

Prose is what ``benchmarks/results.py`` does not generate: the text outside the ``<!-- results:... -->`` blocks,
fenced code and inline code. A figure is a number that stands alone (not part of a name such as int8, top-1 or
MobileNetV2), with its unit when it has one. The ledger lists, per file, the words around each figure and what
kind of figure it is: ``measured`` ones name a claim in ``results.py`` that rebuilds the words from a raw file;
``setting`` (a default or option value), ``limit``, ``definition`` (of the protocol or a format), ``fact``
(versions, the machine, published work) and ``example`` say why no raw file stands behind them. A figure changed
by hand no longer matches its words, so ``--check`` fails until someone says what kind of figure the new one is.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "benchmarks" / "figures.yaml"
KINDS = ("measured", "setting", "limit", "definition", "fact", "example")
FIGURE = re.compile(r"(?<![\w.\-/#])[-+]?\d+(?:[.,]\d+)*(?:%|x\b|-(?:point|thread|bit|px)\b|"
                    r"\s?(?:ms|s|min|MB|MiB|GB|GiB|KB|points?)\b)?(?![\w\-]|\.\d)")


def prose_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The words a person wrote: generated blocks, fenced and inline code and emphasis removed, one space each."""
    text = re.sub(r"<!-- results:(\S+) begin.*?<!-- results:\1 end -->", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = text.replace("**", "")
    return " ".join(text.split())


def figures(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in FIGURE.finditer(text)]


def load_ledger(path: Path = LEDGER) -> dict[str, list[dict[str, Any]]]:
    doc = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return doc or {}


def _spans(text: str, context: str) -> list[tuple[int, int]]:
    ctx = " ".join(context.split())
    return [(m.start(), m.start() + len(ctx)) for m in re.finditer(re.escape(ctx), text)] if ctx else []


def problems(claims: dict[str, Callable[[], str]], ledger: dict[str, list[dict[str, Any]]] | None = None,
             files: list[Path] | None = None, root: Path = ROOT) -> list[str]:
    """One line per figure the ledger does not cover, per entry whose words are gone, per stale measured claim."""
    ledger = load_ledger() if ledger is None else ledger
    bad: list[str] = []
    for path in files or prose_files():
        name = str(path.relative_to(root))
        text = prose(path.read_text())
        covered: list[tuple[int, int]] = []
        for e in ledger.get(name, []):
            ctx, kind = str(e.get("context", "")), e.get("kind")
            spans = _spans(text, ctx)
            if kind not in KINDS:
                bad.append(f"{name}: {ctx!r}: kind {kind!r} is none of {', '.join(KINDS)}")
            elif not spans:
                bad.append(f"{name}: {ctx!r} is no longer in the prose: a figure changed by hand, or the words "
                           "moved (fix the prose or benchmarks/figures.yaml)")
            elif kind == "measured":
                bad += _claim_problem(name, ctx, e.get("claim"), claims)
            covered += spans
        for a, b, fig in uncovered(text, covered):
            bad.append(f"{name}: the figure {fig!r} in {text[max(0, a - 50):b + 50]!r} is not in "
                       "benchmarks/figures.yaml: generate it from a raw file or list it with its kind")
    return bad


def uncovered(text: str, covered: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """The figures of ``text`` that lie in none of the ``covered`` spans."""
    return [(a, b, fig) for a, b, fig in figures(text) if not any(s <= a and b <= e for s, e in covered)]


def _claim_problem(name: str, ctx: str, claim: Any, claims: dict[str, Callable[[], str]]) -> list[str]:
    if claim not in claims:
        return [f"{name}: {ctx!r}: a measured figure needs a claim, one of {', '.join(sorted(claims))}"]
    try:
        want = " ".join(claims[claim]().split())
    except (StopIteration, KeyError, ValueError, TypeError) as exc:
        return [f"{name}: claim {claim}: its raw file no longer gives this figure ({type(exc).__name__})"]
    if want not in " ".join(ctx.split()):
        return [f"{name}: claim {claim} says {want!r} from its raw file; the prose says {ctx!r}"]
    return []


def draft(text: str, a: int, b: int) -> str:
    """The words around a figure, within its sentence: 3 on each side."""
    left, right = text[:a].split(" "), text[b:].split(" ")
    ctx = " ".join(left[-4:]) + text[a:b] + " ".join(right[:4])
    return ctx.strip()


def main() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results import CLAIMS

    bad = problems(CLAIMS)
    ledger = load_ledger()
    for path in prose_files():
        name = str(path.relative_to(ROOT))
        text = prose(path.read_text())
        covered = [s for e in ledger.get(name, []) for s in _spans(text, str(e.get("context", "")))]
        new = [draft(text, a, b) for a, b, _ in uncovered(text, covered)]
        if new:
            print(f"{name}:")
            for ctx in dict.fromkeys(new):
                print(f"  - {{context: {yaml.safe_dump(ctx, default_style=chr(34)).strip()}, kind: TODO}}")
    print("\n".join(bad) if bad else "every figure in the prose is in benchmarks/figures.yaml", file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
