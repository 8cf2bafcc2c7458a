"""``make run``: the embedded default, supervised by one command.

Prepares the SQLite database and static files, creates a demo login when no user exists, then starts the
web server, a Celery worker and Celery beat as child processes — and, when no ``CELIGO_API_TOKEN`` is
configured, the bundled Celigo simulator, whose demo account the worker connects at start-up. It prints
the URL and the login once the web server answers, and Ctrl-C (or SIGTERM) stops every child. If one
child dies, the others are stopped too, so a half-running system never hides behind a working page.

The console shows only what a person needs, the URL and the login last: each child writes to
``var/log/<name>.log`` (the simulator's request log, Celery's banner and task lines), and a child that dies
has its last lines printed. ``VERBOSE=1 make run`` sends the children's output to the console instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cryptography.fernet import Fernet

from dashboard import env as read

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 20
DEMO_TOKEN = "sim-demo-token"  # noqa: S105 - the simulator's public demo token, not a secret


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class Supervisor:
    """Starts children in their own process groups and stops them all together."""

    def __init__(self, env: dict[str, str], log_dir: Path | None = None) -> None:
        self.env = env
        self.children: list[Child] = []
        self.stopping = False
        # None: the children write to our console.
        self.log_dir = log_dir

    def start(self, name: str, argv: list[str]) -> Child:
        # A new process group per child: the terminal's Ctrl-C reaches only us, and we stop the children
        # in order, instead of every process racing to die at once.
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
        try:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, start_new_session=True, stdout=output, stderr=output
            )
        finally:
            if output is not None:
                output.close()  # the child holds its own copy
        child = Child(name, argv, process)
        self.children.append(child)
        return child

    def where_to_look(self, child: Child | None = None) -> str:
        """Where a person finds what went wrong; the last lines of a child's log when it has one."""
        if self.log_dir is None:
            return "see the messages above"
        children = [child] if child is not None else self.children
        tails = []
        for each in children:
            path = self.log_dir / f"{each.name}.log"
            lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if path.exists() else []
            if lines:
                tails.append(f"--- last lines of {path}:\n" + "\n".join(lines))
        return "\n".join([f"see the logs in {self.log_dir}", *tails])

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def stop_all(self) -> None:
        # Repeated Ctrl-C while stopping must not abandon children half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stopping = True
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                # The group leader only: gunicorn and Celery stop their own workers gracefully.
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)  # anything the child left behind


def var_dir(env: dict[str, str]) -> Path:
    path = Path(env.get("ERROR_DESK_VAR_DIR", ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def persistent_secret_key(directory: Path) -> str:
    path = directory / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def persistent_field_keys(directory: Path, secret_key: str) -> str:
    """The Fernet keys that encrypt Celigo tokens on the embedded default, kept beside the secret key.

    Made once. A ``var/`` from before this file existed holds tokens encrypted with the key that was then
    derived from the secret key: that key stays second in the list, so they are still read (and re-encrypted
    with the first key whenever they are saved).
    """
    path = directory / "field_encryption_keys"
    if not path.exists():
        keys = [Fernet.generate_key().decode()]
        if (directory / "errordesk.sqlite3").exists():
            keys.append(read.derived_field_key(secret_key).decode())
        path.write_text(",".join(keys))
        path.chmod(0o600)
    return path.read_text().strip()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def wait_until_healthy(url: str, supervisor: Supervisor, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.first_exited() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def wait_for_port(host: str, port: int, supervisor: Supervisor, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.first_exited() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.2)
    return False


def embedded_environment(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["SECRET_KEY"] = env.get("SECRET_KEY") or persistent_secret_key(var_dir(env))
    env["FIELD_ENCRYPTION_KEYS"] = env.get("FIELD_ENCRYPTION_KEYS") or persistent_field_keys(
        var_dir(env), env["SECRET_KEY"]
    )
    return env


def main() -> int:
    env = embedded_environment(dict(os.environ))
    host = env.get("HOST", "127.0.0.1")
    port = int(env.get("PORT", "8000"))
    if not port_is_free(host, port):
        print(f"Port {port} on {host} is taken; stop what uses it or start with PORT=<another port>.")
        return 2

    print("Preparing the database and static files…", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    login = json.loads(manage(env, "ensure_demo_login", capture=True))

    log_dir = None if read.read_bool(env, "VERBOSE") else var_dir(env) / "log"
    supervisor = Supervisor(env, log_dir)
    simulator_port = None
    if not env.get("CELIGO_API_TOKEN", "").strip():
        simulator_port = int(env.get("SIMULATOR_PORT", "8765"))
        if not port_is_free(host, simulator_port):
            print(
                f"Port {simulator_port} for the Celigo simulator is taken; "
                "start with SIMULATOR_PORT=<another port>."
            )
            return 2
        # No Celigo token: point every process at the bundled simulator and its demo account.
        env.update(
            CELIGO_BASE_URL=f"http://{host}:{simulator_port}",
            CELIGO_API_TOKEN=DEMO_TOKEN,
            CELIGO_ACCOUNT_NAME=env.get("CELIGO_ACCOUNT_NAME") or "Acme Retail (demo)",
        )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # One stop is enough: a second signal (uv and the terminal both forward Ctrl-C) must not
        # interrupt the orderly shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    python = sys.executable
    try:
        if simulator_port is not None:
            supervisor.start(
                "simulator",
                [
                    python,
                    "-m",
                    "celigo_api.simulator",
                    "--host",
                    host,
                    "--port",
                    str(simulator_port),
                    "--seed",
                    "demo",
                    "--live-rate",
                    "0.05",
                ],
            )
            if not wait_for_port(host, simulator_port, supervisor):
                print(f"The Celigo simulator did not start; {supervisor.where_to_look()}", flush=True)
                return 1
        supervisor.start(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "dashboard.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
        )
        supervisor.start(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "dashboard",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                "embedded-worker@%h",
            ],
        )
        supervisor.start(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "dashboard",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(var_dir(env) / "celerybeat-schedule"),
            ],
        )
        url = f"http://{host}:{port}/"
        if not wait_until_healthy(url + "healthz", supervisor):
            print(f"Error Desk did not come up; {supervisor.where_to_look()}", flush=True)
            return 1
        celigo = (
            f"the bundled simulator at {env['CELIGO_BASE_URL']} (demo account)"
            if simulator_port is not None
            else env.get("CELIGO_BASE_URL") or f"region {env.get('CELIGO_REGION', 'na')}"
        )
        print_banner(url, login, celigo, log_dir)
        while True:
            exited = supervisor.first_exited()
            if exited is not None:
                code = exited.process.returncode if exited.process else "?"
                print(
                    f"The {exited.name} process stopped (exit code {code}); stopping the others. "
                    f"{supervisor.where_to_look(exited)}",
                    flush=True,
                )
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping Error Desk…", flush=True)
        return 0
    finally:
        supervisor.stop_all()


def print_banner(url: str, login: dict[str, str | None], celigo: str, log_dir: Path | None) -> None:
    lines = ["", "=" * 72, f"  Error Desk is running at {url}", f"  Celigo: {celigo}"]
    if login.get("username"):
        lines.append(f"  Log in as: {login['username']}  /  password: {login['password']}")
    else:
        lines.append("  Log in with your Error Desk account (python manage.py createsuperuser adds one).")
    if log_dir is not None:
        lines.append(f"  Logs: {log_dir}/ (VERBOSE=1 make run shows them here)")
    lines += ["  Press Ctrl-C to stop every process.", "=" * 72, ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
