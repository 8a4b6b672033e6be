"""A Raspberry Pi in a box: an emulated Debian bookworm arm64 userland with sshd on a loopback port (issue 32).

    python benchmarks/arm64_box.py up        # build (cached) and start; prints the two device profiles
    python benchmarks/arm64_box.py status
    python benchmarks/arm64_box.py down      # stop sshd; its mounts go with it

Needs root on Linux with binfmt_misc (Debian: qemu-user-static, binfmt-support, mmdebstrap; installed with
apt-get when missing). The box lives in ``--dir`` (default ``$EDGETL_ARM64_BOX`` or /var/cache/edgetl-arm64):

- ``rootfs/``: ``mmdebstrap --arch=arm64`` of bookworm (the Debian release Raspberry Pi OS 64-bit is built on)
  with python3, venv, pip and openssh-server, built in ``rootfs.partial/`` and renamed when complete;
- ``/opt/edgetl`` inside it: a venv with ``edgetl[runtime]`` from a wheel built from this checkout and the real
  aarch64 wheels of its dependencies from PyPI, pinned to the versions this machine has;
- ``keys/``, ``profiles/arm64-emulated.yaml`` and ``profiles/arm64-emulated-onnx.yaml``: how ``edgetl bench``
  reaches it over SSH like a real Pi.

The traps found while planning it are handled: qemu shows the host's x86 ``/proc/cpuinfo`` (onnxruntime's CPU
detection segfaults on it), so an Arm cpuinfo is bind-mounted over it; qemu's default CPU model (``max``) gives
wrong int8 results, so ``QEMU_CPU`` names a real core (cortex-a72 = Pi 4, cortex-a76 = Pi 5) for sshd, every
session (``SetEnv``) and ``/etc/environment``; pip inside trusts this machine's CA certificates. Every command
in the box runs in a private mount namespace (``unshare -m``): proc, /dev and the cpuinfo are mounted there and
disappear with its last process, so nothing is left mounted on this machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
PACKAGES = "python3,python3-venv,python3-pip,openssh-server,ca-certificates"
RUNTIME_DEPS = ("numpy", "pillow", "ai-edge-litert", "onnxruntime", "click", "pyyaml", "rich")
VENV = "/opt/edgetl"
# /proc/cpuinfo of the core qemu emulates, as an arm64 Linux kernel writes it (one entry per core)
CPUS = {
    "cortex-a72": ("0xd08", "0x0", "3", "fp asimd evtstrm crc32 cpuid"),
    "cortex-a76": ("0xd0b", "0x4", "1", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                        "asimdrdm lrcpc dcpop asimddp"),
}
CORES = 4


def say(msg: str) -> None:
    print(f"[arm64-box] {msg}", flush=True)


def box_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("EDGETL_ARM64_BOX") or "/var/cache/edgetl-arm64")


def cpuinfo(cpu: str) -> str:
    part, variant, rev, feats = CPUS[cpu]
    return "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {feats}\nCPU implementer\t: 0x41\n"
                   f"CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {rev}\n\n"
                   for i in range(CORES))


# ---------------------------------------------------------------- this machine: tools and binfmt
def host_tools() -> None:
    if os.geteuid() != 0:
        sys.exit("arm64_box.py needs root (chroot, mounts, binfmt_misc): run it with sudo")
    missing = [p for p, exe in (("qemu-user-static", "/usr/bin/qemu-aarch64-static"),
                                ("binfmt-support", "/usr/sbin/update-binfmts"), ("mmdebstrap", "/usr/bin/mmdebstrap"),
                                ("arch-test", "/usr/bin/arch-test"))
               if not Path(exe).exists()]
    if missing:
        if not shutil.which("apt-get"):
            sys.exit(f"install {', '.join(missing)} (Debian/Ubuntu packages) and run again")
        say(f"installing {', '.join(missing)} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                       stdout=subprocess.DEVNULL)
    fs = Path("/proc/sys/fs/binfmt_misc")
    if not (fs / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(fs)], check=True)
    handler = fs / "qemu-aarch64"
    if not handler.exists() or "enabled" not in handler.read_text():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)
    text = handler.read_text()
    if "enabled" not in text or "F" not in next((ln.split()[1] for ln in text.splitlines()
                                                  if ln.startswith("flags:")), ""):
        sys.exit(f"{handler} is not enabled with the F flag (the interpreter must be opened on this side of the "
                 f"chroot):\n{text}")


def _mirror() -> str:
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            for line in f.read_text().splitlines():
                parts = line.split()
                if line.startswith("URIs:") and len(parts) > 1 and parts[1].rstrip("/").endswith("/debian"):
                    return parts[1]
                if line.startswith("deb ") and parts[1].rstrip("/").endswith("/debian") and "security" not in line:
                    return parts[1]
        except (OSError, IndexError):
            continue
    return "http://deb.debian.org/debian"


# ---------------------------------------------------------------- the box: run a command inside
def in_box(root: Path, cpu: str, argv: list[str], *, env: dict[str, str] | None = None,
           popen: bool = False, **kw):  # type: ignore[no-untyped-def]
    """Run ``argv`` inside the box, in a private mount namespace that dies with it."""
    script = ('set -e; R="$1"; shift; '
              'mount -t proc proc "$R/proc"; mount --bind "$R/etc/edgetl/cpuinfo" "$R/proc/cpuinfo"; '
              'mount --rbind /dev "$R/dev"; mount -t tmpfs -o size=2g tmpfs "$R/tmp"; '
              'mount -t sysfs sysfs "$R/sys"; '
              'exec chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin '
              'HOME=/root LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" PIP_CERT=/etc/ssl/certs/ca-certificates.crt '
              'PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 PIP_NO_INPUT=1 '
              + " ".join(f"{k}={v}" for k, v in (env or {}).items()) + ' "$@"')
    cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(root), *argv]
    e = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "QEMU_CPU": cpu}
    if popen:
        return subprocess.Popen(cmd, env=e, **kw)
    return subprocess.run(cmd, env=e, **kw)


def build_rootfs(d: Path, cpu: str) -> float:
    root = d / "rootfs"
    if (root / "etc" / "edgetl" / "rootfs.json").is_file():
        return 0.0
    part = d / "rootfs.partial"
    shutil.rmtree(part, ignore_errors=True)
    mirror = _mirror()
    say(f"building Debian {SUITE} arm64 in {part} from {mirror} (cold: 4-12 min measured on 2 x86 vCPU; "
        "the time is printed at the end; cached after)")
    t0 = time.time()
    subprocess.run(["mmdebstrap", "--arch=arm64", "--variant=apt", f"--include={PACKAGES}", "--quiet", SUITE,
                    str(part), mirror], check=True)
    (part / "etc" / "edgetl").mkdir(parents=True, exist_ok=True)
    configure(part, cpu)
    secs = time.time() - t0
    (part / "etc" / "edgetl" / "rootfs.json").write_text(json.dumps(
        {"suite": SUITE, "packages": PACKAGES, "mirror": mirror, "built": time.strftime("%Y-%m-%d %H:%M"),
         "build_s": round(secs, 1)}) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    part.rename(root)  # complete or absent: a half-built box never looks built
    say(f"rootfs built in {secs:.0f} s ({_du(root)} MB)")
    return secs


def _du(p: Path) -> int:
    out = subprocess.run(["du", "-sm", str(p)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


def configure(root: Path, cpu: str) -> None:
    """Files that depend on this machine (CA certificates, DNS) or on the chosen core: rewritten at every start."""
    etc = root / "etc"
    (etc / "edgetl").mkdir(parents=True, exist_ok=True)
    host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if host_ca.is_file():  # this machine's trusted CAs (a registry proxy's among them) for pip inside
        shutil.copyfile(host_ca, etc / "ssl" / "certs" / "ca-certificates.crt")
    for f in ("resolv.conf", "hosts"):
        if Path("/etc", f).is_file():
            (etc / f).unlink(missing_ok=True)
            shutil.copyfile(Path("/etc", f), etc / f)
    (etc / "edgetl" / "cpuinfo").write_text(cpuinfo(cpu))
    env = [ln for ln in (etc / "environment").read_text().splitlines() if not ln.startswith("QEMU_CPU=")] \
        if (etc / "environment").is_file() else []
    (etc / "environment").write_text("\n".join([*env, f"QEMU_CPU={cpu}"]) + "\n")
    (root / "run" / "sshd").mkdir(parents=True, exist_ok=True)


def _pins() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for p in RUNTIME_DEPS:
        try:
            pins.append(f"{p}=={version(p)}")
        except PackageNotFoundError:
            pass
    return pins


def _source_hash() -> str:
    files = subprocess.run(["git", "ls-files", "edgetl", "pyproject.toml"], capture_output=True, text=True,
                           cwd=REPO, check=True).stdout.split()
    h = hashlib.sha256()
    for f in sorted(files):
        if (REPO / f).is_file():
            h.update(f.encode() + b"\0" + (REPO / f).read_bytes())
    return h.hexdigest()[:16]


def install_edgetl(d: Path, cpu: str) -> dict[str, float]:
    """edgetl[runtime] from a wheel of this checkout; its dependencies once (real aarch64 wheels from PyPI)."""
    root, costs = d / "rootfs", {}
    stamp = root / "etc" / "edgetl" / "installed.json"
    src = _source_hash()
    pins = _pins()
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    if old.get("source") == src and old.get("pins") == pins:
        return {}
    wheels = root / "opt" / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    t0 = time.time()
    w = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(wheels), str(REPO)], capture_output=True, text=True)
    if w.returncode != 0:
        sys.exit(f"building the edgetl wheel from {REPO} failed:\n{w.stderr[-2000:]}")
    whl = next(wheels.glob("edgetl-*.whl")).name
    (wheels / "constraints.txt").write_text("\n".join(pins) + "\n")
    if old.get("pins") != pins or not (root / VENV.lstrip("/") / "bin" / "python").exists():
        say(f"installing edgetl[runtime] in the box with {', '.join(pins)} (cold: about 3-5 min)")
        in_box(root, cpu, ["sh", "-c", f"python3 -m venv {VENV} && {VENV}/bin/pip install -q -c "
                                       f"/opt/wheels/constraints.txt 'edgetl[runtime] @ file:///opt/wheels/{whl}'"],
               check=True)
    in_box(root, cpu, [f"{VENV}/bin/pip", "install", "-q", "--no-deps", "--force-reinstall", f"/opt/wheels/{whl}"],
           check=True)
    costs["install_s"] = round(time.time() - t0, 1)
    deps_s = costs["install_s"] if old.get("pins") != pins else old.get("deps_install_s")
    stamp.write_text(json.dumps({"source": src, "pins": pins, "wheel": whl, "install_s": costs["install_s"],
                                 "deps_install_s": deps_s}) + "\n")
    return costs


# ---------------------------------------------------------------- sshd and the profiles
def _keys(d: Path) -> Path:
    k = d / "keys"
    k.mkdir(mode=0o700, exist_ok=True)
    for n in ("host", "client"):
        if not (k / n).is_file():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"edgetl-arm64-{n}", "-f",
                            str(k / n)], check=True)
    return k


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pid(d: Path) -> int | None:
    try:
        pid = int((d / "sshd.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(d: Path, cpu: str) -> dict[str, object]:
    root, k = d / "rootfs", _keys(d)
    if _pid(d):
        return json.loads((d / "state.json").read_text())
    port = _free_port()
    cfg = root / "etc" / "edgetl"
    shutil.copyfile(k / "host", cfg / "host_key")
    os.chmod(cfg / "host_key", 0o600)
    (cfg / "authorized_keys").write_text((k / "client.pub").read_text())
    (cfg / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey /etc/edgetl/host_key\nAuthorizedKeysFile "
        "/etc/edgetl/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSetEnv QEMU_CPU={cpu}\n"
        "PidFile /run/sshd-edgetl.pid\n")
    hp = (k / "host.pub").read_text().split()
    (k / "known_hosts").write_text(f"[127.0.0.1]:{port} {hp[0]} {hp[1]}\n")
    log = open(d / "sshd.log", "ab")
    p = in_box(root, cpu, ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/edgetl/sshd_config"], popen=True,
               stdout=log, stderr=log, start_new_session=True)
    (d / "sshd.pid").write_text(str(p.pid))
    state = {"port": port, "cpu": cpu, "pid": p.pid, "key": str(k / "client"), "known_hosts": str(k / "known_hosts")}
    t0 = time.time()
    while time.time() - t0 < 120:
        r = _ssh(state, ["uname", "-m"], timeout=60)
        if r.returncode == 0 and r.stdout.strip() == "aarch64":
            state["ssh_ready_s"] = round(time.time() - t0, 1)
            break
        if p.poll() is not None:
            sys.exit(f"sshd in the box exited {p.returncode}: see {d / 'sshd.log'}")
        time.sleep(1)
    else:
        stop(d)
        sys.exit(f"sshd in the box did not answer in 120 s: see {d / 'sshd.log'}")
    (d / "state.json").write_text(json.dumps(state) + "\n")
    write_profiles(d, state)
    return state


def _ssh(state: dict, argv: list[str], timeout: float = 120, input: bytes | None = None
         ) -> subprocess.CompletedProcess:
    """A command in the box over its sshd (text output; binary when ``input`` bytes are sent)."""
    return subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o",
                           f"UserKnownHostsFile={state['known_hosts']}", "-i", str(state["key"]), "-o",
                           "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-p", str(state["port"]), "root@127.0.0.1",
                           "--", " ".join(shlex.quote(x) for x in argv)],
                          capture_output=True, text=input is None, input=input, timeout=timeout)


def write_profiles(d: Path, state: dict) -> list[Path]:
    """The built-in ``arm64-emulated`` profiles with this box's access filled in."""
    import yaml

    out = []
    (d / "profiles").mkdir(exist_ok=True)
    for name in ("arm64-emulated", "arm64-emulated-onnx"):
        prof = yaml.safe_load((REPO / "edgetl" / "profiles" / f"{name}.yaml").read_text())
        prof["description"] += f" QEMU_CPU={state['cpu']}."
        prof["access"] = {"kind": "ssh", "host": "127.0.0.1", "port": state["port"], "user": "root",
                          "key": state["key"], "known_hosts": state["known_hosts"], "python": f"{VENV}/bin/python",
                          "workdir": "/tmp/edgetl-bench", "connect_timeout_s": 30}
        f = d / "profiles" / f"{name}.yaml"
        f.write_text(yaml.safe_dump(prof, sort_keys=False))
        out.append(f)
    return out


def _kill_inside(root: Path) -> int:
    """Every process whose root directory is the box: a killed bench leaves its workers running in there."""
    n = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "root") == str(root):
                os.kill(int(proc.name), signal.SIGKILL)
                n += 1
        except OSError:
            pass
    return n


def stop(d: Path) -> bool:
    pid = _pid(d)
    if pid:
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
        for _ in range(50):
            if _pid(d) is None:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
    _kill_inside(d / "rootfs")  # sshd's sessions (setsid: outside its group) and what they started
    (d / "sshd.pid").unlink(missing_ok=True)
    (d / "state.json").unlink(missing_ok=True)
    left = [ln.split()[1] for ln in Path("/proc/self/mounts").read_text().splitlines()
            if ln.split()[1].startswith(str(d / "rootfs") + "/")]
    for m in sorted(left, key=len, reverse=True):  # never expected (private namespace); removed if ever seen
        subprocess.run(["umount", "-l", m])
    return bool(pid)


def up(d: Path, cpu: str) -> dict[str, object]:
    t0 = time.time()
    host_tools()
    d.mkdir(parents=True, exist_ok=True)
    cold = not (d / "rootfs" / "etc" / "edgetl" / "rootfs.json").is_file()
    build_s = build_rootfs(d, cpu)
    configure(d / "rootfs", cpu)
    if _pid(d) and json.loads((d / "state.json").read_text()).get("cpu") != cpu:
        stop(d)
    costs = install_edgetl(d, cpu)
    if costs and _pid(d):
        stop(d)  # a new edgetl: sessions of the old sshd would still see the old files (they do not: same rootfs)
    state = start(d, cpu)
    info = _ssh(state, [f"{VENV}/bin/python", "-c", "import platform, numpy, edgetl.runtime, ai_edge_litert, "
                        "onnxruntime as o; print(platform.machine(), platform.python_version(), numpy.__version__, "
                        "o.__version__, o.get_available_providers())"], timeout=300)
    if info.returncode != 0:
        sys.exit(f"edgetl's runtime does not import in the box:\n{info.stderr[-2000:]}")
    built = json.loads((d / "rootfs" / "etc" / "edgetl" / "rootfs.json").read_text())
    inst = json.loads((d / "rootfs" / "etc" / "edgetl" / "installed.json").read_text())
    state.update(cold=cold, build_s=round(build_s, 1), **costs, up_s=round(time.time() - t0, 1),
                 box=info.stdout.strip(), cold_rootfs_s=built.get("build_s"),
                 cold_install_s=inst.get("deps_install_s"), rootfs_mb=_du(d / "rootfs"))
    (d / "state.json").write_text(json.dumps(state) + "\n")
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("up", "down", "status"))
    ap.add_argument("--dir", help="where the box is cached (default $EDGETL_ARM64_BOX or /var/cache/edgetl-arm64)")
    ap.add_argument("--cpu", choices=sorted(CPUS), default="cortex-a72",
                    help="the core qemu emulates: cortex-a72 (Raspberry Pi 4, default) or cortex-a76 (Pi 5)")
    a = ap.parse_args()
    d = box_dir(a.dir)
    if a.action == "down":
        say("stopped" if stop(d) else "was not running")
        return
    if a.action == "status":
        st = json.loads((d / "state.json").read_text()) if _pid(d) and (d / "state.json").is_file() else None
        print(json.dumps({"running": bool(st), **(st or {}), "built": (d / "rootfs" / "etc" / "edgetl" /
                                                                      "rootfs.json").is_file()}))
        return
    st = up(d, a.cpu)
    say(f"{'built cold' if st['cold'] else 'cached'}; up in {st['up_s']} s; box: {st['box']}")
    say(f"ssh: ssh -i {st['key']} -o UserKnownHostsFile={st['known_hosts']} -p {st['port']} root@127.0.0.1")
    say(f"bench: edgetl bench RUN --device {d}/profiles/arm64-emulated.yaml "
        f"--device {d}/profiles/arm64-emulated-onnx.yaml --max-images 100")
    print(json.dumps(st))


if __name__ == "__main__":
    main()
