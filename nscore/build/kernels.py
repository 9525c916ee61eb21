"""Chapter kernels forked from a process that has already imported the chapters' libraries.

Most of a chapter's run at 334 patients is not its analysis but its kernel's start: a new Python,
ipykernel, then pandas, scipy.stats, altair, pandera and nscore (about 3 s a kernel on this
project's 2-core machine). Every chapter of every build paid that again. A :class:`ForkServer`
(a "zygote") imports those modules once per build; each chapter's kernel is then an ``os.fork`` of
it that starts ipykernel on the connection file jupyter_client wrote, in the chapter's own working
directory and environment.

Each kernel is still a new process with an empty namespace: forking copies the imported modules
(what a chapter's first ``import`` would have produced) and nothing else, because the zygote runs no
chapter code. Only the modules' import side effects are shared, exactly as if they had been
imported at kernel start-up. The zygote is started in the project root with the project on
``PYTHONPATH``, so the nscore it imports is the project's own, and it ends with the build.

Only POSIX has ``fork``; elsewhere, or with ``NSCORE_FORK_KERNELS=0``, chapters get ordinary kernels.
"""

from __future__ import annotations

import contextlib
import importlib
import runpy
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nscore.errors import ForkServerError

ENV_SWITCH = "NSCORE_FORK_KERNELS"

#: Imported once by the zygote before it forks anything. Anything a chapter imports that is missing
#: here is imported by the chapter itself, as usual; a module listed here that fails to import is skipped.
PRELOAD = (
    "numpy", "pandas", "scipy.stats", "pandera.pandas", "altair", "vl_convert", "yaml",
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "myst_nb",
    "nscore.analyses.cohort", "nscore.analyses.efficacy", "nscore.report.figures", "nscore.analyses.headline", "nscore.report.provenance",
    "nscore.analyses.published", "nscore.report.render", "nscore.analyses.safety", "nscore.statistics.survival", "nscore.report.tables",
    "nscore.data.versions",
)

#: Imported by the zygote between forks, while the chapters run: what the site build needs.
LATE_PRELOAD = (
    "sphinx.application", "jupyter_book.cli.main", "jupyter_book.sphinx", "myst_nb.sphinx_ext",
    "sphinx_book_theme", "sphinxcontrib.bibtex", "sphinx_design", "sphinx_togglebutton",
    "sphinx_copybutton", "sphinx_external_toc", "sphinx_multitoc_numbering", "sphinx_jupyterbook_latex",
    "sphinx_thebe", "sphinx_comments", "sphinx.builders.html",
)

#: What the ``jupyter-book`` console script runs.
JUPYTER_BOOK_ENTRY = "jupyter_book.cli.main:main"


#: What ``python -m ipykernel_launcher`` runs.
KERNEL_ENTRY = "ipykernel.kernelapp:launch_new_instance"


def enabled() -> bool:
    """Whether chapter kernels are forked (POSIX, and not switched off with NSCORE_FORK_KERNELS=0)."""
    return hasattr(os, "fork") and os.environ.get(ENV_SWITCH, "1") != "0"


# --------------------------------------------------------------------------------------------------
# client side (the build process)
# --------------------------------------------------------------------------------------------------
class ForkServer:
    """A zygote process for one build, in ``root`` with ``root`` first on ``PYTHONPATH``.

    Use as a context manager; :meth:`spawn` returns a :class:`ForkedProcess`. ``log`` receives the
    zygote's own stderr (import warnings, a crash's traceback).
    """

    def __init__(self, root: Path, log: Path, preload: tuple[str, ...] | None = None,
                 late_preload: tuple[str, ...] | None = None, start_timeout: float = 120):
        self.root = Path(root)
        self.log = Path(log)
        self.preload = PRELOAD if preload is None else preload
        self.late_preload = LATE_PRELOAD if late_preload is None else late_preload
        self.start_timeout = start_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="nscore-zygote-"))
        self.address = str(self._dir / "zygote.sock")
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._ready = False

    def start(self) -> "ForkServer":
        """Launch the zygote and return at once; its imports run while the build goes on."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(self.root), env.get("PYTHONPATH", "")) if x)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nscore.build.kernels", self.address, *self.preload, "--", *self.late_preload],
                cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> None:
        """Block until the zygote has imported ``preload`` and listens (once; thread-safe)."""
        with self._lock:
            if self._ready:
                return
            if self.process is None:
                raise ForkServerError("the kernel fork server was not started")
            deadline = time.monotonic() + self.start_timeout
            line = b"-"
            while line and line.strip() != b"ready" and time.monotonic() < deadline:
                ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
                line = self.process.stdout.readline() if ready else b""
            if line.strip() != b"ready":
                tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log.exists() else ""
                raise ForkServerError(f"the kernel fork server did not start; its log ends:\n{tail}")
            self._ready = True

    def spawn(self, entry: str, args: list[str], env: dict[str, str], cwd: str,
              stdout: str | None = None, stderr: str | None = None) -> "ForkedProcess":
        """Fork a child that runs ``entry`` ("module:function", or a module run as ``__main__``).

        ``sys.argv`` is ``[module, *args]``; stdout and stderr go to the files named (else devnull).
        """
        self.wait_ready()
        if self.process is None or self.process.poll() is not None:
            raise ForkServerError("the kernel fork server is not running")
        request = {"entry": entry, "args": list(args), "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr}
        return ForkedProcess(self.address, request)

    def run(self, entry: str, args: list[str], env: dict[str, str], cwd: str,
            stdout: str | None = None, stderr: str | None = None) -> int:
        """:meth:`spawn` and wait: the exit status (negative: the signal that ended it)."""
        return self.spawn(entry, args, env, cwd, stdout, stderr).wait()

    def close(self) -> None:
        """Stop the zygote; it kills kernels still running (a build that ends has none)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process.stdout.close()
            self.process = None
        for p in self._dir.glob("*"):
            p.unlink(missing_ok=True)
        if self._dir.exists():
            self._dir.rmdir()

    def __enter__(self) -> "ForkServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class ForkedProcess:
    """The ``subprocess.Popen`` surface that jupyter_client's local provisioner uses, for a forked child.

    The child is the zygote's, not ours: its exit status arrives on this child's own connection to
    the zygote, and signals go to its pid directly.
    """

    stdin = stdout = stderr = None

    def __init__(self, address: str, request: dict):
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._conn.connect(address)
        self._conn.sendall(json.dumps(request).encode() + b"\n")
        self._buffer = b""
        self.pid = int(self._read_line(timeout=60))
        self.returncode: int | None = None

    def _read_line(self, timeout: float | None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._conn], [], [], left)
            if not ready:
                raise TimeoutError
            chunk = self._conn.recv(4096)
            if not chunk:
                raise ForkServerError("the kernel fork server closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def poll(self) -> int | None:
        try:
            return self.wait(timeout=0)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            try:
                self.returncode = int(self._read_line(timeout))
            except TimeoutError:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout) from None
            except ForkServerError:  # the zygote is gone, and with it every child
                self.returncode = -signal.SIGKILL
            self._conn.close()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def provisioner_class(server: ForkServer):
    """A jupyter_client local provisioner whose kernels are forked by ``server``."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            if cmd[1:3] != ["-m", "ipykernel_launcher"]:
                raise ForkServerError(f"only ipykernel kernels are forked, not {cmd}")
            stderr = kwargs.get("stderr")
            self.process = server.spawn(
                KERNEL_ENTRY, cmd[3:], dict(kwargs.get("env") or os.environ),
                str(kwargs.get("cwd") or os.getcwd()), stderr=getattr(stderr, "name", None),
            )
            self.pid = self.process.pid
            self.pgid = None  # the kernel leads its own session; signal it, never a group
            self.cwd = kwargs.get("cwd", os.getcwd())
            return self.connection_info

    return ForkProvisioner


# --------------------------------------------------------------------------------------------------
# server side (the zygote: python -m nscore.build.kernels ADDRESS MODULE...)
# --------------------------------------------------------------------------------------------------
def _child(request: dict, inherited: list) -> None:
    """Become the requested program: own session, fds, environment and cwd, then its entry point."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for x in inherited:  # the zygote's sockets and pipe are not the child's
            if isinstance(x, socket.socket):
                x.close()
            else:
                os.close(x)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = request.get(name) or os.devnull
            os.dup2(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        module, _, function = request["entry"].partition(":")
        sys.argv = [module, *request["args"]]
        if sys.path and sys.path[0] in ("", os.getcwd()):  # as ipykernel_launcher and console scripts do
            del sys.path[0]
        if function:
            result = getattr(importlib.import_module(module), function)()
            code = result if isinstance(result, int) else 0
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _preload(name: str) -> None:
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the readiness line
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional module only costs its import later
            print(f"nscore.build.kernels: preload {name} failed: {exc!r}", file=sys.stderr)


def serve(address: str, preload: list[str], late_preload: list[str] = ()) -> None:
    """Import ``preload``, then fork one child per connection until terminated.

    ``late_preload`` is imported one module at a time whenever no request is waiting.
    """
    for name in preload:
        _preload(name)
    late = list(late_preload)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    kernels: dict[socket.socket, int] = {}  # connection -> kernel pid
    pending: dict[socket.socket, bytes] = {}  # connections whose request is not complete yet
    print("ready", flush=True)
    while not stopping:
        try:
            ready, _, _ = select.select([listener, wake_r, *kernels, *pending], [], [], 0 if late else None)
        except InterruptedError:
            continue
        if not ready and late:
            _preload(late.pop(0))
        for r in ready:
            if r is listener:
                conn, _ = listener.accept()
                pending[conn] = b""
            elif r is wake_r:
                os.read(wake_r, 4096)
                _reap(kernels)
            elif r in pending:
                chunk = r.recv(65536)
                if not chunk:
                    del pending[r]  # the client gave up before asking
                    r.close()
                    continue
                pending[r] += chunk
                if b"\n" in pending[r]:
                    request = json.loads(pending.pop(r).split(b"\n", 1)[0])
                    pid = os.fork()
                    if pid == 0:
                        _child(request, [listener, *kernels, *pending, r, wake_r, wake_w])
                    kernels[r] = pid
                    r.sendall(f"{pid}\n".encode())
            elif r in kernels and not r.recv(4096):  # the build dropped this kernel: end it
                pid = kernels.pop(r)
                r.close()
                _kill(pid)
        _reap(kernels)
    for conn, pid in kernels.items():
        _kill(pid)
        conn.close()
    listener.close()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _reap(kernels: dict[socket.socket, int]) -> None:
    """Collect exited kernels and tell each one's client its exit status (negative: its signal)."""
    by_pid = {pid: conn for conn, pid in kernels.items()}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = by_pid.get(pid)
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        try:
            conn.sendall(f"{code}\n".encode())
        except OSError:
            pass
        conn.close()
        kernels.pop(conn, None)


if __name__ == "__main__":
    _args = sys.argv[2:]
    _cut = _args.index("--") if "--" in _args else len(_args)
    serve(sys.argv[1], _args[:_cut], _args[_cut + 1:])
