"""The layering rule: an allow-list of what ``edgetl --help`` and ``edgetl.runtime`` may load (as click's own
tests do), and the import graph of the package: no cycles, nothing imports a higher layer."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "edgetl"

# Third-party top-level packages each entry point may load; anything else (TensorFlow, Keras, ONNX, tf2onnx,
# matplotlib, torch, ONNX Runtime's own heavy deps...) fails the test, whatever its name.
HELP_ALLOWED = {"click", "edgetl", "yaml", "_yaml"}
RUNTIME_ALLOWED = {"edgetl", "numpy", "PIL", "ai_edge_litert", "onnxruntime", "tflite_runtime", "sympy", "mpmath",
                   "coloredlogs", "humanfriendly", "flatbuffers", "packaging", "google", "typing_extensions"}


def _third_party(code: str) -> set[str]:
    """Top-level modules a fresh interpreter loads for ``code`` beyond the standard library."""
    probe = code + ("\nimport sys, json\nstd = set(sys.stdlib_module_names) | set(sys.builtin_module_names)\n"
                    "tops = {m.split('.')[0] for m in sys.modules if not m.startswith('__editable__')}\n"
                    "print(json.dumps(sorted(tops - std - {'__main__', '_distutils_hack', 'sitecustomize'})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _help(*args: str) -> str:
    argv = ", ".join(repr(a) for a in ("edgetl", *args, "--help"))
    return (f"import sys\nfrom edgetl.cli.main import cli\nsys.argv=[{argv}]\n"
            "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit:\n    pass")


def test_help_loads_only_the_allow_list() -> None:
    extra = _third_party(_help()) - HELP_ALLOWED
    assert not extra, extra


def test_subcommand_help_loads_only_the_allow_list() -> None:
    for cmd in ("train", "export", "pipeline", "predict", "backbones", "bench", "inspect", "devices"):
        extra = _third_party(_help(cmd)) - HELP_ALLOWED
        assert not extra, (cmd, extra)


def test_runtime_loads_only_the_allow_list() -> None:
    extra = _third_party("import edgetl.runtime\nfrom edgetl.runtime import Classifier") - RUNTIME_ALLOWED
    assert not extra, extra


# ---------------------------------------------------------------- the import graph

# Layers from the style guide; a module may import (at module level) only its own layer or lower ones.
# Imports inside function bodies are the lazy ones the layering allows.
LAYER_OF = [  # (prefix, layer); the longest matching prefix wins
    ("edgetl.errors", 0), ("edgetl.targets", 0), ("edgetl.config", 0), ("edgetl.artifacts", 0),
    ("edgetl.pipeline", 0), ("edgetl.deps", 0), ("edgetl.train_record", 0),
    ("edgetl.modality", 0), ("edgetl.__init__", 0), ("edgetl", 2),
    ("edgetl.runtime", 1), ("edgetl.devices", 1), ("edgetl.hardware", 1), ("edgetl.safe_yaml", 1),
    ("edgetl.bench.timing", 1),
    ("edgetl.cli", 3),
]


def _layer(mod: str) -> int:
    best = max((p for p, _ in LAYER_OF if mod == p or mod.startswith(p + ".")), key=len)
    return dict(LAYER_OF)[best]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """edgetl modules imported at module level (not inside functions), resolved to module names."""
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If):  # TYPE_CHECKING blocks are not imports at run time
            continue
        for n in nodes:
            if isinstance(n, ast.Import):
                out |= {a.name for a in n.names if a.name.startswith("edgetl")}
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    base = package.split(".")
                    base = base[: len(base) - (n.level - 1)]
                    mod = ".".join(base + ([n.module] if n.module else []))
                else:
                    mod = n.module or ""
                if mod.startswith("edgetl"):
                    for a in n.names:  # "from . import x" may name a submodule
                        sub = f"{mod}.{a.name}"
                        out.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists() else mod)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _top_level_imports(p) for p in PKG.rglob("*.py")}


def test_import_graph_has_no_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in graph.get(m, ()):
            if d not in graph:
                continue
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)


def test_nothing_imports_a_higher_layer() -> None:
    bad = [(m, d) for m, deps in _graph().items() for d in deps if _layer(d) > _layer(m)]
    assert not bad, bad


def test_runtime_imports_only_runtime_and_errors() -> None:
    """The runtime folder can be vendored into a device app: it needs only itself and edgetl.errors."""
    for m, deps in _graph().items():
        if m.startswith("edgetl.runtime"):
            others = {d for d in deps if not d.startswith("edgetl.runtime") and d != "edgetl.errors"}
            assert not others, (m, others)
    for p in (PKG / "runtime").rglob("*.py"):  # lazy imports too
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module and not node.module.startswith(
                    ("errors", "runtime")):
                rel_pkg = _module_name(p).split(".")[: -node.level] if p.name != "__init__.py" else []
                target = ".".join(rel_pkg + [node.module])
                assert target.startswith("edgetl.runtime") or target == "edgetl.errors", (p, target)


# modules over 400 lines, each with its reason (the style guide: split by owner when one grows)
LONG_MODULES: dict[str, str] = {}
FUNCTION_MAX_LINES = 60
# functions over 60 lines, each with its reason (written beside the function too)
LONG_FUNCTIONS: dict[str, str] = {
    "edgetl/text/encoder.py:_layers": "the encoder's two Keras layer classes, defined in a function so that importing "
                                      "the module does not import Keras",
    "edgetl/backbones/lite_torch.py:build_torch": "the PyTorch twin of EfficientNet-Lite, its module classes defined "
                                                  "in a function so that torch is imported only for the import",
}


def test_modules_and_functions_stay_small() -> None:
    """Modules under 400 lines (or listed above with a reason), functions under 60 (or listed with a reason)."""
    long_modules, long_functions = [], []
    for p in sorted(PKG.rglob("*.py")):
        rel = str(p.relative_to(PKG.parent))
        text = p.read_text()
        if len(text.splitlines()) > 400 and rel not in LONG_MODULES:
            long_modules.append(f"{rel}: {len(text.splitlines())} lines")
        for n in ast.walk(ast.parse(text)):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = n.end_lineno - n.lineno + 1
                if length > FUNCTION_MAX_LINES and f"{rel}:{n.name}" not in LONG_FUNCTIONS:
                    long_functions.append(f"{rel}:{n.lineno} {n.name}: {length} lines")
    assert not long_modules, long_modules
    assert not long_functions, long_functions


# ---------------------------------------------------------------- modality as a plug-in

MODALITY_HOMES = ("edgetl/modality.py", "edgetl/image/", "edgetl/text/", "edgetl/runtime/text.py")


def _kind_tests(path: Path) -> list[int]:
    """Lines of ``path`` that compare something with the literal "image" or "text" (==, !=, in, not in)."""
    def literal(n: ast.AST) -> bool:
        if isinstance(n, ast.Constant):
            return n.value in ("image", "text")
        return isinstance(n, (ast.Tuple, ast.List, ast.Set)) and any(literal(e) for e in n.elts)

    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                 for op in node.ops):
            if any(literal(x) for x in (node.left, *node.comparators)):
                lines.append(node.lineno)
    return lines


def test_no_room_tests_a_runs_kind_by_name() -> None:
    """Image vs text is a table (edgetl/modality.py) and its plug-ins, not a string tested in every room."""
    bad = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).as_posix()
        if not rel.startswith(MODALITY_HOMES) and (lines := _kind_tests(p)):
            bad[rel] = lines
    assert not bad, bad
