"""Child processes for benchmarks: a fake server (feed server, Bot API emulator) started
in another process, which prints its base URL on its first stdout line, and stopped
again whatever happens.

Used by bench/poll.py, bench/fanout.py and bench/soak.py.
"""

from __future__ import annotations

import os
import selectors
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


def start_url_child(cmd: Sequence[str], what: str, *, timeout: float,
                    stderr: IO[bytes] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start `cmd` in the project root; wait for the "http://127.0.0.1:PORT" line it
    prints first. On any failure the child is stopped before the error is raised."""
    process = subprocess.Popen(list(cmd), cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(process.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=timeout):
                raise RuntimeError(f"{what} did not print its URL within {timeout:.0f} s")
        line = process.stdout.readline().decode().strip()
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{what} failed to start (exit {process.poll()}): {line!r}")
        return process, line.rstrip("/")
    except BaseException:
        stop(process)
        raise


@contextmanager
def url_child(cmd: Sequence[str], what: str, *,
              timeout: float) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`start_url_child`, stopped on leaving the block (also on error or Ctrl-C)."""
    process, url = start_url_child(cmd, what, timeout=timeout)
    try:
        yield process, url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (Linux); NaN once it is gone."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def stat_cpu_seconds(stat: Path) -> float:
    """utime + stime from a /proc stat file (a process's, or a thread's under
    /proc/PID/task/TID/stat); NaN when it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
