"""Start a throwaway sshd on 127.0.0.1 and run edgetl bench on RUN_DIR with host-cpu and a loopback-SSH profile.

    python benchmarks/loopback_ssh.py runs/flowers   (root; needs openssh-server)

Writes benchmarks/results/loopback_ssh.json (rows, date, machine) for RESULTS.md.
"""
import json, subprocess, sys, time, socket, getpass
from pathlib import Path
d = Path("/tmp/lbsshd"); subprocess.run(["rm", "-rf", str(d)]); d.mkdir()
for n in ("host", "client"):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / n)], check=True)
(d / "authorized_keys").write_text((d / "client.pub").read_text())
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
(d / "cfg").write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d/'host'}\nPidFile {d/'pid'}\nAuthorizedKeysFile {d/'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n")
Path("/run/sshd").mkdir(exist_ok=True)
p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "cfg")]); time.sleep(1)
hp = (d / "host.pub").read_text().split(); (d / "kh").write_text(f"[127.0.0.1]:{port} {hp[0]} {hp[1]}\n")
prof = {"name": "loopback-ssh", "description": "this machine over SSH on 127.0.0.1", "runtime": "litert", "threads": [1, 2],
        "access": {"kind": "ssh", "host": "127.0.0.1", "port": port, "user": getpass.getuser(), "key": str(d / "client"),
                   "known_hosts": str(d / "kh"), "python": sys.executable, "workdir": "/tmp/lbsshd/remote"},
        "min_time_s": 3, "max_time_s": 20, "min_runs": 50, "warmup_runs": 10}
(d / "loopback-ssh.yaml").write_text(json.dumps(prof))
try:
    out = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "bench", sys.argv[1], "--device", "host-cpu", "--device",
                          str(d / "loopback-ssh.yaml"), "--out", "/tmp/edgetl-loopback-bench", "--json"], capture_output=True, text=True)
    rows = json.loads(out.stdout)["rows"]
    from edgetl.bench.fingerprint import machine_info

    Path("benchmarks/results/loopback_ssh.json").write_text(json.dumps(
        {"script": "benchmarks/loopback_ssh.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
         "rows": rows}, indent=1) + "\n")
    for r in rows:
        if r["status"] == "ok":
            print(r["device"], r["target"], r["threads"], r["status"], r["p50_ms"], r["p90_ms"], r["accuracy"], r["top1_agreement"], r["rss_peak_mb"])
        else:
            print(r["device"], r["target"], r["threads"], r["status"], r["reason"][:60])
finally:
    p.terminate()
