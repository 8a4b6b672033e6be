"""Run the benchmark worker locally (a child process) or on a device over SSH (OpenSSH client).

SSH uses key authentication only (BatchMode), checks the host key against known_hosts (never adds it),
and passes every profile value as its own argument locally and through ``shlex.quote`` in the remote
command, so host names, paths and user names cannot inject shell commands.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..devices import Access
from ..errors import DeviceUnavailableError

MARK = "EDGETL-RESULT "


def _parse(proc: subprocess.CompletedProcess, where: str) -> dict[str, Any]:
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    tail = (proc.stderr or proc.stdout or "").strip()[-800:]
    if proc.returncode == 255:  # OpenSSH: its own failure, or the remote command died of a signal
        return {"status": "failed", "reason": f"the worker on {where} crashed (killed by a signal) or the SSH "
                                              f"connection broke: {tail or 'no output'}"}
    if proc.returncode < 0 or proc.returncode > 128:  # local: -signal; through a shell: 128 + signal
        sig = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
        return {"status": "failed", "reason": f"the runtime crashed on {where} (signal {sig}): {tail}"}
    return {"status": "failed", "reason": f"worker on {where} exited {proc.returncode} without a result: {tail}"}


def run_local(model: Path, threads: int, eval_path: Path | None, settings: dict[str, Any],
              timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "edgetl.bench.worker", str(model), "--threads", str(threads),
           "--settings", json.dumps(settings)]
    if eval_path is not None:
        cmd += ["--eval", str(eval_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    return _parse(proc, "this machine")


class SSHTarget:
    def __init__(self, access: Access) -> None:
        if access.kind != "ssh" or not access.host:
            raise DeviceUnavailableError("profile has no SSH access configured")
        self.a = access
        self.dest = f"{access.user}@{access.host}" if access.user else access.host

    def _opts(self) -> list[str]:
        a = self.a
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"ConnectTimeout={a.connect_timeout_s}",
                "-o", "LogLevel=ERROR"]
        if a.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={Path(a.known_hosts).expanduser()}"]
        if a.key:
            opts += ["-i", str(Path(a.key).expanduser()), "-o", "IdentitiesOnly=yes"]
        return opts

    def ssh(self, remote_argv: list[str], timeout_s: float, stdin: bytes | None = None
            ) -> subprocess.CompletedProcess:
        command = " ".join(shlex.quote(x) for x in remote_argv)
        cmd = ["ssh", *self._opts(), "-p", str(self.a.port), "--", self.dest, command]
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout_s)

    def check(self) -> None:
        try:
            p = self.ssh([self.a.python, "-c", "import edgetl.runtime, sys; print(sys.version.split()[0])"], 60)
        except subprocess.TimeoutExpired as exc:
            raise DeviceUnavailableError(f"{self.dest}:{self.a.port} did not answer in 60 s") from exc
        if p.returncode == 255:
            raise DeviceUnavailableError(f"cannot reach {self.dest}:{self.a.port} over SSH: "
                                         f"{p.stderr.decode(errors='replace').strip()[-300:]}")
        if p.returncode != 0:
            raise DeviceUnavailableError(f"{self.dest}: edgetl's runtime is not installed for {self.a.python} "
                                         f"(pip install 'edgetl[runtime]' there): "
                                         f"{p.stderr.decode(errors='replace').strip()[-300:]}")

    def put(self, local: Path, remote_name: str) -> str:
        """Copy a file into the profile's workdir through ssh (no scp option parsing of names)."""
        target = f"{self.a.workdir.rstrip('/')}/{remote_name}"
        p = self.ssh(["sh", "-c", 'mkdir -p "$1" && cat > "$2"', "sh", self.a.workdir, target], 300,
                     stdin=local.read_bytes())
        if p.returncode != 0:
            raise DeviceUnavailableError(f"copying {local.name} to {self.dest} failed: "
                                         f"{p.stderr.decode(errors='replace').strip()[-300:]}")
        return target

    def run_worker(self, model: Path, threads: int, eval_path: Path | None, settings: dict[str, Any],
                   timeout_s: float) -> dict[str, Any]:
        from ..targets import artifact_files

        for part in artifact_files(model)[1:]:  # an OpenVINO IR's weights, before the XML that names them
            self.put(part, part.name)
        remote_model = self.put(model, model.name)
        side = model.with_name(model.name + ".json")
        if side.is_file():
            self.put(side, side.name)
        argv = [self.a.python, "-m", "edgetl.bench.worker", remote_model, "--threads", str(threads),
                "--settings", json.dumps(settings)]
        if eval_path is not None:
            argv += ["--eval", self.put(eval_path, eval_path.name)]
        try:
            p = self.ssh(argv, timeout_s)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s on {self.dest}"}
        proc = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(errors="replace"),
                                           p.stderr.decode(errors="replace"))
        return _parse(proc, self.dest)
