"""DeviceProfile: what a target device is, how edgetl reaches it, and loading/validating ``*.yaml`` profiles.

A profile describes a target; it does not detect hardware. Built-in profiles ship as package data in
``edgetl/profiles/`` (the repository's top-level ``devices/`` links there); ``--device ./my.yaml`` loads
a user's own file with the same validation.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .hardware import KERNELS, Hardware
from .targets import FORMATS

PROFILE_DIR = Path(__file__).with_name("profiles")
RUNTIMES = tuple(dict.fromkeys(f.runtime for f in FORMATS.values()))  # litert, onnxruntime, openvino
DELEGATES = (None, "edgetpu", "gpu")
ACCESS_KINDS = ("local", "ssh", "none")
# what the OS of a board must be for ``pip install 'edgetl[runtime]'`` (profile field ``os_arch``)
OS_NOTES = {
    "aarch64": ("needs a 64-bit (aarch64) OS, such as Raspberry Pi OS 64-bit or Debian/Ubuntu arm64: there "
                "pip install 'edgetl[runtime]' gets the aarch64 wheels of ai-edge-litert, onnxruntime, numpy and "
                "Pillow (run in an emulated Debian bookworm arm64: benchmarks/arm64_box.py). 32-bit Raspberry Pi OS "
                "(armhf) has none of those wheels for its Python 3.11, and tflite-runtime's armv7l wheels stop at "
                "Python 3.10: flash the 64-bit image"),
    "x86_64": "a 64-bit x86 OS with Python 3.10 or newer",
}
_HOST = re.compile(r"^(?!-)[A-Za-z0-9._:\-\[\]]{1,253}$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_PATH = re.compile(r"^[A-Za-z0-9_./~+\-]{1,4096}$")


@dataclass(frozen=True)
class Access:
    """How to reach the device: ``local``, ``ssh`` (key authentication, known_hosts checked) or ``none``."""

    kind: str = "local"
    host: str | None = None
    user: str | None = None
    port: int = 22
    key: str | None = None
    known_hosts: str | None = None
    python: str = "python3"
    workdir: str = "/tmp/edgetl-bench"
    connect_timeout_s: int = 10


@dataclass(frozen=True)
class DeviceProfile:
    """A target device. See ``edgetl devices show NAME`` for a filled-in example."""

    name: str
    description: str
    runtime: str
    delegate: str | None = None
    providers: tuple[str, ...] = ()
    threads: tuple[int, ...] = (1,)
    needs_full_int8: bool = False
    formats: tuple[str, ...] = ()
    ram_mb: int | None = None
    storage_mb: int | None = None
    hardware: Hardware = field(default_factory=Hardware)
    sources: tuple[str, ...] = ()
    access: Access = field(default_factory=Access)
    warmup_runs: int = 10
    min_runs: int = 30
    max_runs: int = 1000
    min_time_s: float = 2.0
    max_time_s: float = 20.0
    repetitions: int = 3
    provider_options: dict[str, Any] = field(default_factory=dict)
    os_arch: str | None = None  # the OS the board must run for edgetl's runtime (OS_NOTES)
    emulated: bool = False  # an emulator (qemu): real results, latency that is no speed (never shown as one)
    kernels: str | None = None  # the CPU kernels its runtime runs (edgetl.hardware.KERNELS); None: XNNPACK assumed
    # what ``edgetl calibrate`` fitted on the board's own rows, read from its own file beside the profile (the YAML
    # names it: ``latency_calibration: NAME.calibration.json``); the hardware facts stay what the board is
    latency_calibration: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.hardware, Hardware):  # a profile built in code with a plain mapping
            object.__setattr__(self, "hardware", Hardware.from_dict(dict(self.hardware or {}), self.name))

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain data (``hardware`` as its YAML said it: the keys that are set)."""
        import dataclasses

        return {**dataclasses.asdict(self), "hardware": self.hardware.to_dict()}

    def accepts(self, target: str) -> tuple[bool, str]:
        """Whether an artifact of ``target`` (``tflite:int8``) can run here, and why not."""
        from .targets import get

        t = get(target)
        if t.format.runtime != self.runtime:
            return False, f"{self.name} runs {self.runtime} models ({', '.join(self.formats) or 'its own format'}); " \
                          f"this is {t.name}"
        if self.formats and t.name not in self.formats:
            return False, f"{self.name} accepts {', '.join(self.formats)}; this is {t.name}"
        if self.needs_full_int8 and not t.full_integer:
            return False, f"{self.name} needs a full-integer model (tflite:int8 or tflite:uint8); this is {t.name}"
        return True, ""

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str) -> "DeviceProfile":
        known = {f for f in cls.__dataclass_fields__ if f != "path"}
        for k in d:
            if not isinstance(k, str) or k not in known:
                k = str(k)
                close = difflib.get_close_matches(k, sorted(known), n=1)
                raise ConfigError(f"{source}: unknown profile field {k!r}." +
                                  (f" Did you mean {close[0]!r}?" if close else "") + f" Known: {', '.join(sorted(known))}.")
        for req in ("name", "description", "runtime"):
            if not d.get(req):
                raise ConfigError(f"{source}: profile field {req!r} is required.")
        if d["runtime"] not in RUNTIMES:
            raise ConfigError(f"{source}: runtime must be one of {', '.join(RUNTIMES)}; got {d['runtime']!r}.")
        if d.get("delegate") not in DELEGATES:
            raise ConfigError(f"{source}: delegate must be null, edgetpu or gpu; got {d.get('delegate')!r}.")
        threads = d.get("threads", [1])
        threads = tuple(threads if isinstance(threads, list) else [threads])
        if not threads or not all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= 256 for t in threads):
            raise ConfigError(f"{source}: threads must be a positive integer or a list of them; got {d.get('threads')!r}.")
        access = _access(d.get("access") or {"kind": "local"}, source)
        nums = {}
        for k in ("warmup_runs", "min_runs", "max_runs", "min_time_s", "max_time_s", "ram_mb", "storage_mb",
                  "repetitions"):
            if d.get(k) is not None:
                v = d[k]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or v == float("inf"):
                    raise ConfigError(f"{source}: {k} must be a non-negative number; got {v!r}.")
                nums[k] = v
        po = d.get("provider_options") or {}
        if not isinstance(po, dict) or not all(isinstance(v, dict) for v in po.values()):
            raise ConfigError(f"{source}: provider_options must map a provider name to its options, e.g. "
                              "{TensorrtExecutionProvider: {trt_fp16_enable: true}}.")
        if "repetitions" in nums:
            if nums["repetitions"] != int(nums["repetitions"]) or not 1 <= nums["repetitions"] <= 50:
                raise ConfigError(f"{source}: repetitions must be a whole number 1..50; got {nums['repetitions']!r}.")
            nums["repetitions"] = int(nums["repetitions"])
        if d.get("os_arch") is not None and d["os_arch"] not in OS_NOTES:
            raise ConfigError(f"{source}: os_arch must be one of {', '.join(OS_NOTES)}; got {d['os_arch']!r}.")
        if not isinstance(d.get("emulated", False), bool):
            raise ConfigError(f"{source}: emulated must be true or false; got {d.get('emulated')!r}.")
        hardware = Hardware.from_dict(d.get("hardware"), str(source))  # checked: a mapping, known keys
        old_fit = (d.get("hardware") or {}).get("latency_calibration")  # written there before it had its own file
        fitted = _calibration(d.get("latency_calibration"), old_fit, source)
        kernels = d.get("kernels", hardware.get("kernels"))
        if kernels is not None and (kernels not in KERNELS or hardware.get("kernels") not in (None, kernels)):
            raise ConfigError(f"{source}: kernels must be one of {', '.join(KERNELS)} (and agree with "
                              f"hardware.kernels); got {kernels!r}.")
        prof = cls(name=str(d["name"]), description=str(d["description"]), runtime=d["runtime"],
                   delegate=d.get("delegate"), providers=tuple(d.get("providers") or ()), threads=threads,
                   needs_full_int8=bool(d.get("needs_full_int8", False)), formats=tuple(d.get("formats") or ()),
                   hardware=hardware, sources=tuple(d.get("sources") or ()), access=access,
                   provider_options={str(k): dict(v) for k, v in po.items()}, emulated=d.get("emulated", False),
                   os_arch=d.get("os_arch"), kernels=kernels, latency_calibration=fitted,
                   path=source, **nums)
        if prof.min_runs > prof.max_runs or prof.min_time_s > prof.max_time_s:
            raise ConfigError(f"{source}: min_runs/min_time_s must not exceed max_runs/max_time_s.")
        return prof

    @classmethod
    def from_yaml(cls, path: str | Path) -> "DeviceProfile":
        from .safe_yaml import load_mapping

        p = Path(path)
        d = load_mapping(p, "Device profile")
        if d is None:
            raise ConfigError(f"Device profile {str(p)!r} is empty; it must be a mapping of fields.")
        prof = cls.from_dict(d, source=str(p))
        if prof.name != p.stem:
            raise ConfigError(f"{p}: the file name must match the profile name ({prof.name!r}): rename it to "
                              f"{prof.name}.yaml or change the name.")
        return prof


def _calibration(name: Any, inline: Any, source: str) -> dict[str, Any]:
    """The fitted calibration a profile names (a JSON file in the profile's own folder), or the inline
    ``hardware.latency_calibration`` of profiles that edgetl calibrate wrote before it had its own file."""
    import json

    from .runtime.limits import MAX_CONTRACT_BYTES, read_bounded

    if name is None:
        return dict(inline) if isinstance(inline, dict) else {}
    folder = Path(source).parent.resolve()
    if not isinstance(name, str) or not name.endswith(".json") or "\0" in name:
        raise ConfigError(f"{source}: latency_calibration must name the .json file edgetl calibrate wrote beside the "
                          f"profile; got {name!r}.")
    path = (folder / name).resolve()
    if path.parent != folder:
        raise ConfigError(f"{source}: latency_calibration {name!r} is not in the profile's folder {folder}; keep the "
                          "calibration file beside its profile.")
    try:
        got = json.loads(read_bounded(path, MAX_CONTRACT_BYTES, f"calibration file {str(path)!r}", ConfigError))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read its latency_calibration {str(path)!r} ({exc.strerror or exc}); "
                          "run edgetl calibrate again or remove the line.") from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a calibration edgetl wrote ({str(exc)[:100]}); run edgetl calibrate "
                          "again.") from None
    if not isinstance(got, dict):
        raise ConfigError(f"{path}: not a calibration edgetl wrote (a JSON object); run edgetl calibrate again.")
    return got


def _access(a: Any, source: str) -> Access:
    if not isinstance(a, dict):
        raise ConfigError(f"{source}: access must be a mapping; got {a!r}.")
    unknown = {str(k) for k in a} - set(Access.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{source}: unknown access field(s) {sorted(unknown)}.")
    kind = a.get("kind", "local")
    if kind not in ACCESS_KINDS:
        raise ConfigError(f"{source}: access.kind must be local, ssh or none; got {kind!r}.")
    t = a.get("connect_timeout_s", 10)
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 300:
        raise ConfigError(f"{source}: access.connect_timeout_s must be a whole number of seconds, 1..300; got {t!r}.")
    if kind == "ssh":
        host, user = a.get("host"), a.get("user")
        if not isinstance(host, str) or not _HOST.match(host):
            raise ConfigError(f"{source}: access.host {host!r} is not a host name or address (letters, digits, '.', "
                              "'-', ':'; not starting with '-').")
        if user is not None and (not isinstance(user, str) or not _USER.match(user)):
            raise ConfigError(f"{source}: access.user {user!r} is not a valid user name.")
        port = a.get("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{source}: access.port must be 1..65535; got {port!r}.")
        for k in ("key", "known_hosts", "python", "workdir"):
            v = a.get(k)
            if v is not None and (not isinstance(v, str) or not _PATH.match(v)):
                raise ConfigError(f"{source}: access.{k} {v!r} may hold only letters, digits and _ . / ~ + -.")
    return Access(**a)


def builtin_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.yaml"))}


def load_profile(name_or_path: str) -> DeviceProfile:
    """``host-cpu`` (built-in) or ``./my.yaml`` (a file)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise ConfigError(f"Device profile file {name_or_path!r} does not exist.")
        return DeviceProfile.from_yaml(p)
    known = builtin_profiles()
    if name_or_path not in known:
        close = difflib.get_close_matches(name_or_path, list(known), n=1)
        raise ConfigError(f"Unknown device {name_or_path!r}." + (f" Did you mean {close[0]!r}?" if close else "") +
                          f" Known: {', '.join(known)}; or pass the path of your own profile .yaml.")
    return DeviceProfile.from_yaml(known[name_or_path])
