"""Helpers shared by the gateway benchmarks: processes, ports, keys, wrk runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WRK = shutil.which("wrk") or "/usr/bin/wrk"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Process:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.name = name
        self.log_path = Path(tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, cwd=cwd,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of the PostgreSQL server so far: every process of it now running (backends,
    WAL writer, checkpointer), plus the backends that exited, which the postmaster has
    reaped into its children's times. The server's cost, where the benchmark is its only
    client."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            own = int(fields[11]) + int(fields[12])
            parent_is_postgres = (Path("/proc") / fields[1] / "comm").read_text().strip() \
                == "postgres" if fields[1] != "0" else False
            reaped = 0 if parent_is_postgres else int(fields[13]) + int(fields[14])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # exited while we looked
        total += (own + reaped) / os.sysconf("SC_CLK_TCK")
    return total


def uvicorn_argv(target: str, port: int, *, factory: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level",
            "warning"]
    return argv + (["--factory"] if factory else [])


def wait_http(url: str, timeout: float = 60.0, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.proc.poll() is not None:
            log_tail = process.log_path.read_text()[-3000:]
            raise RuntimeError(f"{process.name} exited; log: {log_tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status < 500:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@dataclass
class WrkResult:
    label: str
    url: str
    connections: int
    duration_s: int
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    errors: str


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(label: str, url: str, *, connections: int, duration: int, token: str | None,
            threads: int | None = None, lua: str = "", timeout: str | None = None
            ) -> WrkResult:
    """One wrk run; ``lua`` is appended to its script, ``timeout`` is wrk's (default 2s)."""
    script = Path(tempfile.gettempdir()) / f"bench-wrk-{os.getpid()}.lua"
    lines = []
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    script.write_text("\n".join(lines) + "\n" + lua)
    threads = threads or min(connections, 2)
    argv = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
            "-s", str(script), url]
    if timeout:
        argv[1:1] = ["--timeout", timeout]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    result = WrkResult(label=label, url=url, connections=connections, duration_s=duration,
                       requests_per_s=rps, p50_ms=_ms(percentiles["50"]),
                       p75_ms=_ms(percentiles["75"]), p90_ms=_ms(percentiles["90"]),
                       p99_ms=_ms(percentiles["99"]), non_2xx=int(non_2xx.group(1)) if non_2xx
                       else 0, errors=errors.group(0) if errors else "")
    log(f"  {label:<28} c={connections:<3} {rps:>9.0f} req/s  p50 {result.p50_ms:.3f} ms  "
        f"p99 {result.p99_ms:.3f} ms" + (f"  non-2xx {result.non_2xx}" if result.non_2xx else "")
        + (f"  {result.errors}" if result.errors else ""))
    return result


def make_keys() -> tuple[str, dict, str]:
    """(private PEM, JWKS, a valid access token for 2 hours)."""
    import uuid

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "bench", "alg": "RS256",
           "use": "sig"}
    now = int(time.time())
    token = jwt.encode({"sub": str(uuid.uuid4()), "role": "member", "tier": None, "iat": now,
                        "exp": now + 7200, "jti": str(uuid.uuid4()), "typ": "access",
                        "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE}, key,
                       algorithm="RS256", headers={"kid": "bench"})
    return pem, {"keys": [jwk]}, token


def write_results(name: str, payload: dict, table: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    log(f"wrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.md')}")


def as_dicts(results: list[WrkResult]) -> list[dict]:
    return [asdict(r) for r in results]
