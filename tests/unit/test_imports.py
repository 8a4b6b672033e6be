"""The layering rule, checked in a fresh interpreter: no TensorFlow behind --help or the runtime."""
import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("tensorflow", "keras", "tf2onnx", "jax", "torch")


def _loaded(code: str) -> list[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_tensorflow() -> None:
    code = ("import sys\nfrom edgetl.cli.main import cli\nsys.argv=['edgetl','--help']\n"
            "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit:\n    pass")
    assert _loaded(code) == []


def test_subcommand_help_imports_no_tensorflow() -> None:
    for cmd in ("train", "export", "pipeline", "predict", "backbones"):
        code = (f"import sys\nfrom edgetl.cli.main import cli\nsys.argv=['edgetl','{cmd}','--help']\n"
                "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit:\n    pass")
        assert _loaded(code) == [], cmd


def test_runtime_imports_no_tensorflow() -> None:
    assert _loaded("import edgetl.runtime\nfrom edgetl.runtime import Classifier") == []


def test_runtime_sources_never_import_heavy_or_other_edgetl_modules() -> None:
    root = Path(__file__).resolve().parents[2] / "edgetl" / "runtime"
    for f in root.rglob("*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import ", "from ")):
                assert not any(s.split()[1].split(".")[0] == h for h in HEAVY), (f, s)
                if s.startswith("from .."):
                    target = s.split()[1]
                    assert target in ("..errors",) or target.startswith(("..runtime", "...errors")) or \
                        (f.parent.name == "backends" and target.startswith("..")), (f, s)
