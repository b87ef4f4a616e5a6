"""Start the user's server, wait until it answers, keep its output, stop its whole process group."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from harness.credentials import redact_argv
from harness.errors import BadInput, GpucostError

STOP_GRACE_S = 10.0


class ServerFailed(GpucostError):
    """The server could not be started or never became healthy."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def transformers_command(model: Path, port: int, device: str | None = None) -> list[str]:
    """`transformers serve PATH --continuous-batching` on 127.0.0.1:`port`."""
    if not model.is_dir():
        raise BadInput(f"--model {model}: not a model folder (--server transformers needs one)")
    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists():
        raise BadInput(
            "--server transformers: the `transformers` command is missing "
            '(pip install "gpucost[serve]")'
        )
    command = [str(exe), "serve", str(model), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--continuous-batching"]
    if device:
        command += ["--device", device]
    return command


def health_urls(base_url: str) -> list[str]:
    parts = urlsplit(base_url)
    root = f"{parts.scheme}://{parts.netloc}"
    return [f"{root}/health", base_url.rstrip("/") + "/models"]


MARK_ENV = "GPUCOST_SERVER_MARK"
"""Set, to a value of its own, in the environment of every server gpucost starts: children
inherit it, also those that leave the process group (`setsid`, a daemon's double fork), so
`stop()` finds them by it."""


class Server:
    """A server process in its own session (process group); `stop()` ends the whole group and
    every process that carries its mark."""

    def __init__(
        self,
        command: list[str],
        base_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        stop_grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.command = command
        self.base_url = base_url
        self.log_path = log_path
        self.mark = secrets.token_hex(8)
        self.env = {**(os.environ if env is None else env), MARK_ENV: self.mark}
        self.headers = headers
        self.stop_grace_s = stop_grace_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float) -> None:
        parts = urlsplit(self.base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        try:
            in_use = port_in_use(host, port)
        except OSError as err:  # a host name that does not resolve
            raise BadInput(f"--endpoint: cannot reach {host} ({err.strerror or err})") from None
        if in_use:
            raise BadInput(f"--server-cmd: port {port} on {host} is already in use")
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        try:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
        except OSError as err:
            raise BadInput(
                f"--server-cmd {shlex.join(redact_argv(self.command))!r}: "
                f"cannot start ({err.strerror or err})"
            ) from None
        finally:
            log.close()
        self._wait_healthy(timeout_s)

    def _wait_healthy(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        urls = health_urls(self.base_url)
        with httpx.Client(timeout=2.0, trust_env=False, headers=self.headers) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    raise ServerFailed(
                        f"server exited with code {code} before answering "
                        f"({self._last_log_line()}; log: {self.log_path})"
                    )
                for url in urls:
                    try:
                        if client.get(url).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                time.sleep(0.25)
        self.stop()
        raise ServerFailed(
            f"server did not answer {urls[0]} or {urls[1]} within {timeout_s:g} s "
            f"({self._last_log_line()}; log: {self.log_path})"
        )

    def _last_log_line(self) -> str:
        try:
            lines = [
                ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()
            ]
        except OSError:
            return "no log"
        return lines[-1][:200] if lines else "no output"

    def stop(self) -> None:
        """SIGTERM to the group and every marked process, SIGKILL to what is left after the
        grace period; safe to call twice."""
        process = self.process
        if process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, self.stop_grace_s), (signal.SIGKILL, 5.0)):
            pids = self._marked()
            group = _group_alive(process.pid)
            if process.poll() is not None and not group and not pids:
                break
            if group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                process.poll()  # reaps the server itself; its children are their parents' own
                if not _group_alive(process.pid) and not self._marked():
                    break
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1.0)

    def _marked(self) -> list[int]:
        """Live processes (not zombies) whose environment has this server's mark (Linux /proc;
        elsewhere none: the process group is what is stopped)."""
        needle = f"{MARK_ENV}={self.mark}".encode()
        found = []
        proc = Path("/proc")
        if not proc.is_dir():
            return found
        for entry in proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if needle not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry.name))
        return found

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
