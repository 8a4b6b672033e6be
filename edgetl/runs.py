"""What a run folder holds, what in it is edgetl's, and cleaning it: stale stages, leftovers, the shared cache.

edgetl deletes or replaces only what it made, proven by a marker it wrote: ``run.json`` names its tool,
a ``<stage>-<key>`` folder holds a ``stage.json`` that names that stage and key, a temporary folder holds
``.edgetl-tmp`` with the pid that made it, ``artifacts/`` keeps a manifest of the files it put there and
the shared cache a ``CACHEDIR.TAG``. Anything else in a run folder is the user's and is left alone.

Stdlib only: ``edgetl artifacts`` and ``edgetl clean`` answer without loading TensorFlow.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigError
from .pipeline import STAGE_RE, tmp_owner  # where stage and temporary folders are named and marked
from .runtime.limits import MAX_CONFIG_BYTES, MAX_CONTRACT_BYTES, read_bounded

RUN_FILE = "run.json"
ARTIFACTS_DIR = "artifacts"
LABELS_FILE = "labels.txt"  # the class names beside the stable artifacts
MANIFEST = ".edgetl-artifacts.json"  # inside artifacts/: the files edgetl put there
TOOL = "edgetl"
CACHE_TAG = "CACHEDIR.TAG"
CACHE_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
CACHE_PARTS = ("decoded", "features", "hub", "datasets")
_LEGACY_KEYS = frozenset({"schema", "stages", "exports", "tool"})


def _fail(path: Path, what: str) -> ConfigError:
    return ConfigError(f"{path}: {what}; this is not an edgetl run folder that edgetl can use. Pass the --out folder "
                       "of 'edgetl train' or the run_dir of 'edgetl pipeline', or a new folder.")


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of ``run_dir``, checked: made by edgetl, and every folder or file it names lies inside."""
    rd = Path(run_dir)
    path = rd / RUN_FILE
    if not path.exists():
        raise ConfigError(f"{str(rd)!r} is not an edgetl run folder (no {RUN_FILE}). Pass the --out folder of "
                          "'edgetl train' or the run_dir of 'edgetl pipeline'.")
    raw = read_bounded(path, MAX_CONFIG_BYTES, str(path), ConfigError)
    try:
        state = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({str(exc)[:120]}); rerun the command that made the run.") from None
    _check_state(path, state)
    return state


def _check_state(path: Path, state: Any) -> None:
    if not isinstance(state, dict):
        raise _fail(path, f"holds a JSON {type(state).__name__}, not the object edgetl writes")
    tool = state.get("tool")
    if tool is not None and tool != TOOL:
        raise _fail(path, f"was written by {str(tool)[:60]!r}, not by edgetl")
    if tool is None and not set(state) <= _LEGACY_KEYS:
        raise _fail(path, "was not written by edgetl (unknown keys " + ", ".join(sorted(map(str, state))[:5]) + ")")
    stages, exports = state.get("stages") or {}, state.get("exports") or {}
    if not isinstance(stages, dict) or not isinstance(exports, dict):
        raise _fail(path, "'stages' and 'exports' must be objects")
    for name, e in stages.items():
        if not isinstance(e, dict) or not isinstance(e.get("dir"), str) or not STAGE_RE.match(e["dir"]):
            raise _fail(path, f"stage {str(name)[:40]!r} names no <stage>-<key> folder inside the run")
    for target, e in exports.items():
        if not isinstance(e, dict) or not _inside(e.get("path")):
            raise _fail(path, f"export {str(target)[:40]!r} names a path outside the run folder")


def _inside(rel: Any) -> bool:
    """A relative path ``<stage>-<key>/file`` with no '..', no absolute part and no backslash."""
    if not isinstance(rel, str) or "\\" in rel or "\0" in rel:
        return False
    p = PurePosixPath(rel)
    return (not p.is_absolute() and len(p.parts) >= 2 and ".." not in p.parts
            and STAGE_RE.match(p.parts[0]) is not None)


def run_path(run_dir: str | Path, rel: str) -> Path:
    """``run_dir/rel`` (a path run.json names), refused when a link makes it resolve outside the run folder."""
    rd = Path(run_dir)
    p = rd / rel
    try:
        real, root = p.resolve(), rd.resolve()
    except (OSError, RuntimeError):
        raise ConfigError(f"{p}: cannot be resolved (a link loop?); export the run again.") from None
    if root not in real.parents:
        raise ConfigError(f"{p}: resolves outside the run folder (to {str(real)[:200]}); edgetl reads only the run's "
                          "own files. Export the run again.")
    return p


def check_run_dir(run_dir: str | Path) -> None:
    """Refuse a ``run_dir`` that already holds files and no edgetl ``run.json``: edgetl would write over them."""
    rd = Path(run_dir)
    if (rd / RUN_FILE).exists():
        read_run(rd)
        return
    if rd.exists() and not rd.is_dir():
        raise ConfigError(f"{rd}: is a file, not a folder; pass a new or empty folder as the run folder (--out).")
    if rd.is_dir():
        # a first run killed before it wrote run.json leaves only edgetl's own folders: resuming it is fine
        foreign = sorted(p.name for p in rd.iterdir()
                         if p.name != ".locks" and tmp_owner(p) is None and not is_stage_dir(p))
        if foreign:
            raise ConfigError(f"{rd}: holds files that edgetl did not make ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}) and no {RUN_FILE}; edgetl writes only into a "
                              "new or empty folder or its own run folder. Pass another --out / run_dir.")


def is_stage_dir(d: Path) -> bool:
    """A ``<stage>-<key>`` folder whose ``stage.json`` names that same stage and key (edgetl's marker)."""
    m = STAGE_RE.match(d.name)
    if not m or d.is_symlink() or not d.is_dir():
        return False
    try:
        meta = json.loads(read_bounded(d / "stage.json", MAX_CONTRACT_BYTES, None, ConfigError))
    except (OSError, ValueError, RecursionError, ConfigError):
        return False
    return isinstance(meta, dict) and meta.get("stage") == m.group(1) and meta.get("key") == m.group(2)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def list_artifacts(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's current artifacts: target, status, accuracy, size (with companion files), the stable path and the
    stage path."""
    from .targets import artifact_files

    rd = Path(run_dir)
    state = read_run(rd)
    rows = []
    for target, e in sorted((state.get("exports") or {}).items()):
        stage_file = run_path(rd, e["path"])
        stable = rd / ARTIFACTS_DIR / stage_file.name
        rep = _report(stage_file.parent / "report.json")
        rows.append({"target": target, "status": e.get("status"), "accuracy": rep.get("accuracy"),
                     "accuracy_drop_points": rep.get("accuracy_drop_points"), "use": rep.get("use"),
                     "test_accuracy": rep.get("test_accuracy"),
                     "clients": rep.get("clients", {}),
                     "size_bytes": sum(f.stat().st_size for f in artifact_files(stage_file) if f.is_file())
                     if stage_file.is_file() else None,
                     "path": str(stable if stable.is_file() else stage_file), "stage_path": str(stage_file)})
    return rows


def _report(path: Path) -> dict[str, Any]:
    try:
        rep = json.loads(read_bounded(path, MAX_CONTRACT_BYTES, None, ConfigError))
    except (OSError, ValueError, RecursionError, ConfigError):
        return {}
    if not isinstance(rep, dict):
        return {}
    out: dict[str, Any] = {k: v for k, v in rep.items() if k in ("accuracy", "accuracy_drop_points")
                           and isinstance(v, (int, float)) and not isinstance(v, bool)}
    test = rep.get("test")
    if isinstance(test, dict) and isinstance(test.get("accuracy"), (int, float)):
        out["test_accuracy"] = float(test["accuracy"])
    if isinstance(rep.get("use"), str):
        out["use"] = rep["use"][:400]
    clients = rep.get("clients")
    if isinstance(clients, list):  # {client: status} of the clients that loaded (or refused) the file
        out["clients"] = {str(c.get("client"))[:80]: str(c.get("status"))[:40] for c in clients[:16]
                          if isinstance(c, dict)}
    return out


def _size(p: Path) -> int:
    if p.is_symlink() or p.is_file():
        return p.lstat().st_size
    return sum(f.lstat().st_size for f in p.rglob("*") if f.is_file() or f.is_symlink())


def stale_paths(run_dir: str | Path) -> list[tuple[Path, str]]:
    """edgetl's folders that no current result uses, each with the reason it is edgetl's and stale."""
    rd = Path(run_dir)
    state = read_run(rd)
    keep = {e["dir"] for e in (state.get("stages") or {}).values()}
    exports = {PurePosixPath(e["path"]).parts[0] for e in (state.get("exports") or {}).values()}
    keep |= exports | {_reference_of(rd / d) for d in exports}
    bench = rd / "bench"
    if bench.is_symlink():
        keep.add(os.readlink(bench).rstrip("/"))
    out = []
    for d in sorted(rd.iterdir()):
        pid = tmp_owner(d)
        if pid is not None:
            if not _alive(pid):
                out.append((d, f"temporary folder of edgetl process {pid}, which is no longer running"))
        elif d.name not in keep and is_stage_dir(d):
            out.append((d, "edgetl stage folder (its stage.json) that run.json no longer uses"))
    return out


def _reference_of(export_dir: Path) -> str:
    """The reference stage an export was verified against (named in its stage.json)."""
    try:
        meta = json.loads((export_dir / "stage.json").read_text())
        return Path(meta["inputs"]["reference"]["path"]).parent.name
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return ""


def mark_cache(cache_dir: Path) -> Path:
    """Create the shared cache folder with a CACHEDIR.TAG that names edgetl, when it is new or empty.

    A folder that already holds other files (a user who set EDGETL_CACHE_DIR to their home) gets no tag,
    so ``edgetl clean --cache`` will never delete anything in it.
    """
    cache_dir = Path(cache_dir)
    try:
        if not cache_dir.exists() or (cache_dir.is_dir() and not any(cache_dir.iterdir())):
            cache_dir.mkdir(parents=True, exist_ok=True)
            (cache_dir / CACHE_TAG).write_text(f"{CACHE_SIGNATURE}\n# the edgetl cache (decoded images, features, "
                                               "downloads); 'edgetl clean --cache' empties it\n")
    except OSError:
        pass  # a read-only or racing folder: the cache still works, it just cannot be cleaned by edgetl
    return cache_dir


def _cache_is_ours(cache_dir: Path) -> bool:
    try:
        text = (cache_dir / CACHE_TAG).read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return text.startswith(CACHE_SIGNATURE) and "edgetl" in text


def cache_paths(cache_dir: Path) -> list[tuple[Path, str]]:
    if not cache_dir.exists():
        return []
    if not _cache_is_ours(cache_dir):
        raise ConfigError(f"{cache_dir}: has no CACHEDIR.TAG written by edgetl, so edgetl will not delete anything "
                          f"in it; remove its {', '.join(CACHE_PARTS)} folders yourself if they are edgetl's.")
    return [(cache_dir / n, "edgetl cache folder (CACHEDIR.TAG)") for n in CACHE_PARTS
            if (cache_dir / n).is_dir() and not (cache_dir / n).is_symlink()]


def clean(run_dir: str | Path | None, *, cache_dir: Path | None, dry_run: bool) -> list[dict[str, Any]]:
    """Remove edgetl's stale folders of ``run_dir`` and, when ``cache_dir`` is given, the shared cache's folders."""
    targets = stale_paths(run_dir) if run_dir is not None else []
    if cache_dir is not None:
        targets += cache_paths(Path(cache_dir))
    done = []
    for p, why in targets:
        size = _size(p)
        if not dry_run:
            shutil.rmtree(p, ignore_errors=True)
        done.append({"path": str(p), "bytes": size, "removed": not dry_run, "why": why})
    return done



def _manifest(out: Path) -> set[str]:
    try:
        doc = json.loads(read_bounded(out / MANIFEST, MAX_CONFIG_BYTES, None, ConfigError))
    except (OSError, ValueError, RecursionError, ConfigError):
        return set()
    files = doc.get("files") if isinstance(doc, dict) and doc.get("tool") == TOOL else None
    return {f for f in files if isinstance(f, str) and "/" not in f and "\\" not in f} if isinstance(files, list) \
        else set()


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    try:
        return os.path.samefile(a, b) or (a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False))
    except OSError:
        return False


def _ours(dst: Path, listed: set[str], rd: Path) -> bool:
    """``artifacts/NAME`` is edgetl's: listed in the manifest, or (runs from before the manifest) a copy of the file
    of the same name in one of the run's stage folders."""
    if dst.name in listed:
        return True
    return dst.is_file() and not dst.is_symlink() and any(
        _same_bytes(dst, d / dst.name) for d in rd.iterdir() if (d / dst.name).is_file() and is_stage_dir(d))


def publish_artifacts(run_dir: str | Path) -> Path:
    """``run_dir/artifacts/``: one stable name per target for the run's current artifacts and their contracts.

    Each file is a hard link to the stage folder's file (a copy where links are impossible), replaced
    atomically, so ``runs/flowers/artifacts/model_int8.tflite`` is always the newest verified export and
    never a half-written file. Names whose target is no longer exported are removed, but only names that
    edgetl put there (its manifest ``.edgetl-artifacts.json``); a user's own file of the same name is refused.
    """
    from .artifacts import atomic_write_json, atomic_write_text
    from .targets import artifact_files

    rd = Path(run_dir)
    state = read_run(rd) if (rd / RUN_FILE).exists() else {}
    out = rd / ARTIFACTS_DIR
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ConfigError(f"{out}: is not a folder edgetl made; move it away so edgetl can publish the artifacts.")
    out.mkdir(parents=True, exist_ok=True)
    listed = _manifest(out)
    wanted: dict[str, Path] = {}
    for entry in (state.get("exports") or {}).values():
        model = run_path(rd, entry["path"])
        for src in (*artifact_files(model)[1:], model, model.with_name(model.name + ".json")):  # companions first
            if src.is_file():
                wanted[src.name] = src
    labels = _labels_of(wanted)
    for name in list(wanted) + ([LABELS_FILE] if labels is not None else []):
        dst = out / name
        if (dst.exists() or dst.is_symlink()) and not _ours(dst, listed, rd):
            raise ConfigError(f"{dst}: a file that edgetl did not put there; edgetl will not replace it. Move it out "
                              f"of {out} and run again.")
    made = set(wanted) | ({LABELS_FILE} if labels is not None else set())
    atomic_write_json(out / MANIFEST, {"tool": TOOL, "files": sorted(listed | made)})
    for name, src in wanted.items():
        _link(src, out / name)
    if labels is not None:  # one name per line, line i = output i: what an app's label loader reads
        atomic_write_text(out / LABELS_FILE, "".join(f"{x}\n" for x in labels))
    for name in sorted(listed - made):
        (out / name).unlink(missing_ok=True)  # targets no longer exported (edgetl's own files only)
    for part in out.glob(".*.part"):
        if re.fullmatch(r"\..+\.[0-9]{1,10}\.part", part.name) and part.name[1:].rsplit(".", 2)[0] in wanted:
            part.unlink(missing_ok=True)  # left by an interrupted run
    atomic_write_json(out / MANIFEST, {"tool": TOOL, "files": sorted(made)})
    return out


def _labels_of(wanted: dict[str, Path]) -> list[str] | None:
    """The class names of the run's artifacts (their contracts), or None when no contract says them."""
    for name, src in sorted(wanted.items()):
        if name.endswith(".json"):
            try:
                doc = json.loads(read_bounded(src, MAX_CONTRACT_BYTES, None, ConfigError))
            except (OSError, ValueError, RecursionError, ConfigError):
                continue
            labels = doc.get("labels") if isinstance(doc, dict) else None
            if isinstance(labels, list) and all(isinstance(x, str) and "\n" not in x for x in labels):
                return labels
    return None


def _link(src: Path, dst: Path) -> None:
    if dst.exists() and os.path.samefile(src, dst):
        return  # already this file (rename between two links to one file would do nothing)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    tmp.unlink(missing_ok=True)


def _old_bench_dir(d: Path) -> bool:
    """A real ``bench/`` folder written by an older edgetl: a copy of a bench stage folder."""
    try:
        meta = json.loads(read_bounded(d / "stage.json", MAX_CONTRACT_BYTES, None, ConfigError))
    except (OSError, ValueError, RecursionError, ConfigError):
        return False
    return isinstance(meta, dict) and meta.get("stage") == "bench" and isinstance(meta.get("key"), str)


def link_latest(link: Path, target: Path) -> None:
    """``run_dir/bench`` -> the newest bench stage folder, swapped atomically. Replaced only when it is edgetl's:
    a link to a ``bench-<key>`` folder, or a real folder that an older edgetl wrote."""
    if link.is_symlink():
        if not STAGE_RE.match(os.readlink(link).rstrip("/")):
            raise ConfigError(f"{link}: a link that edgetl did not make (to {os.readlink(link)[:80]}); move it away "
                              "and run again.")
    elif link.is_dir():
        if not _old_bench_dir(link):
            raise ConfigError(f"{link}: a folder that edgetl did not make; edgetl will not replace it. Move it away "
                              "and run again.")
        shutil.rmtree(link)
    elif link.exists():
        raise ConfigError(f"{link}: a file that edgetl did not make; move it away and run again.")
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(target.name, tmp)
    os.replace(tmp, link)
