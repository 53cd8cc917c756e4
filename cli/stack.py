"""Start and stop the local stack `make demo` uses: a Prefect server (SQLite), `medleads serve`
and the intake service, each a background process with a pid file and a log under the data dir."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from models.settings import PROJECT_ROOT, get_settings

_children: list[subprocess.Popen[bytes]] = []


def prefect_port() -> int:
    return int(os.environ.get("MEDLEADS_DEMO_PREFECT_PORT", "4200"))


@dataclass(frozen=True)
class Stack:
    data: Path
    prefect_api: str
    intake_url: str

    @property
    def ui(self) -> str:
        return self.prefect_api.removesuffix("/api")


def stack() -> Stack:
    settings = get_settings()
    data = settings.data_dir.resolve()
    return Stack(
        data=data,
        prefect_api=f"http://127.0.0.1:{prefect_port()}/api",
        intake_url=f"http://{settings.intake_host}:{settings.intake_port}",
    )


def child_env(s: Stack) -> dict[str, str]:
    """What every process of the stack shares: the project's Prefect home, server and settings."""
    return {
        **os.environ,
        "PREFECT_HOME": str(s.data / "prefect"),
        "PREFECT_API_URL": s.prefect_api,
        "PREFECT_UI_API_URL": s.prefect_api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Pickup waits about half the poll interval (0.5 s measured at 1 s).
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        # A run created while another holds a deployment's slot retries after this long (30 s by
        # default): a form arriving during a channel run would wait that long.
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
        # INFO: channel runs log their progress (counts only, no personal data) and review runs
        # what was decided, so the run pages say what happened.
        "PREFECT_LOGGING_LEVEL": "INFO",
        # Heartbeats every 30 s: a run whose process was killed is marked Crashed about 90 s
        # later (the automation `medleads serve` sets up), not left Running.
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "MEDLEADS_DATA_DIR": str(s.data),
    }


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid_file: Path) -> bool:
    try:
        return _pid_alive(int(pid_file.read_text()))
    except (OSError, ValueError):
        return False


def _start(s: Stack, name: str, args: list[str]) -> None:
    run, logs = s.data / "run", s.data / "logs"
    run.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    pid_file = run / f"{name}.pid"
    if pid_file.exists() and _alive(pid_file):
        return
    with (logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=child_env(s),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    _children.append(process)  # they outlive this command by design; keep Popen from warning


def _wait(check: str, what: str, seconds: float, s: Stack) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _healthy(check):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer {check} within {seconds:.0f} s; see {s.data}/logs")


def start() -> Stack:
    """Start what is not running yet (safe to call again) and wait until each answers."""
    s = stack()
    exe = sys.executable
    if not _healthy(f"{s.prefect_api}/health"):
        _start(
            s,
            "prefect-server",
            [
                exe,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(prefect_port()),
            ],
        )
        _wait(f"{s.prefect_api}/health", "the Prefect server", 120, s)
    _start(s, "serve", [exe, "-m", "cli.main", "serve"])
    # The runner registers its deployments a few seconds after it starts.
    _wait(f"{s.prefect_api}/deployments/name/outbound-list/outbound-list", "medleads serve", 90, s)
    if not _healthy(f"{s.intake_url}/v1/health"):
        _start(s, "intake", [exe, "-m", "cli.main", "intake"])
        _wait(f"{s.intake_url}/v1/health", "the intake service", 60, s)
    return s


def stop() -> list[str]:
    """Stop every process `start` left running; returns what was stopped."""
    s = stack()
    stopped: list[str] = []
    # The runner and the intake first, so in-flight runs can still report to the server.
    order = {"serve": 0, "intake": 1, "prefect-server": 2}
    files = sorted((s.data / "run").glob("*.pid"), key=lambda p: order.get(p.stem, 9))
    for pid_file in files:
        pid = int(pid_file.read_text()) if _alive(pid_file) else None
        pid_file.unlink(missing_ok=True)
        if pid is None:
            continue
        # The runner shuts down cleanly on SIGINT (as on Ctrl-C); the servers on SIGTERM.
        sig = signal.SIGINT if pid_file.stem == "serve" else signal.SIGTERM
        with contextlib.suppress(OSError):
            os.killpg(pid, sig)
        stopped.append(pid_file.stem)
        deadline = time.monotonic() + 15
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):  # a flow run holding on: do not leave it behind
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    for child in _children:  # reap what this process started itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    return stopped


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # our own child: reap it if it has exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def drain_prefect_workers() -> None:
    """Flush this process's Prefect log and event workers while the server they talk to is still
    up; left for later, they retry a dead server and hang whatever waits for them at exit."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # a worker that never started
            logs: Any = APILogWorker.instance().drain()
            if inspect.isawaitable(logs):
                await logs
        events: Any = EventsWorker.drain_all()
        if inspect.isawaitable(events):
            await events

    run_coro_as_sync(drain())
