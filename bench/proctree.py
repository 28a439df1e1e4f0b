"""Run a command and sample its process tree from /proc: wall, CPU, peak RSS per process, by role.

Linux only. Every ``interval`` seconds the sampler lists the command's
descendants (by parent pid) and reads each one's ``VmHWM`` (the kernel's own
peak RSS of that process, so a peak between samples is not missed), its
anonymous RSS and its CPU time (utime + stime). A process's figures are the
last ones read before it exited, so up to one interval of CPU of a
short-lived process can be missed. Roles, from the command line:

- ``driver``: the command itself;
- ``ray worker``: Ray's worker processes (``default_worker.py``, titled ``ray::...`` once started);
- ``ray system``: raylet, gcs_server, dashboard and the other Ray daemons;
- ``worker``: any other descendant (the local engine's ``--jobs`` processes).

With ``extra_ray=True`` every ``ray::`` process on the machine that appears
while the command runs counts too (a Ray cluster started outside the command).
Ray's object store is shared memory: pages of it that a process touches count
in its RSS (``VmHWM``) but not in its anonymous RSS, which is the figure
that is its own.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Proc:
    pid: int
    role: str
    title: str
    hwm_mib: float = 0.0  # peak RSS (VmHWM)
    anon_mib: float = 0.0  # peak anonymous RSS, sampled
    cpu_s: float = 0.0


@dataclass
class TreeRun:
    wall_s: float
    status: int
    procs: list[Proc] = field(default_factory=list)
    peak_total_mib: float = 0.0  # the tree's summed RSS at its highest sample
    reaped_cpu_s: float = 0.0  # os.wait4: the command's CPU and that of every descendant it (or they) reaped

    def of(self, role: str) -> list[Proc]:
        return [p for p in self.procs if p.role == role]

    @property
    def cpu_s(self) -> float:
        """The tree's CPU seconds: the larger of the sampled sum and what wait4 counted."""
        return max(sum(p.cpu_s for p in self.procs), self.reaped_cpu_s)


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def _parents() -> dict[int, int]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _read(f"/proc/{name}/stat")
            if stat:
                out[int(name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return out


def _title(pid: int) -> str:
    return (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()


def _role(pid: int, root: int, title: str) -> str:
    if pid == root:
        return "driver"
    argv = title.split(" ")
    if argv[0].endswith(("raylet", "gcs_server")):
        return "ray system"
    if title.startswith("ray::") or any(a.endswith("workers/default_worker.py") for a in argv[:3]):
        return "ray worker"
    return "ray system" if "/ray/" in title else "worker"


def _sample(proc: Proc) -> float:
    """Update ``proc`` from /proc; return its current RSS in MiB (0 once gone)."""
    status = _read(f"/proc/{proc.pid}/status")
    stat = _read(f"/proc/{proc.pid}/stat")
    if not status or not stat:
        return 0.0
    fields = {line.split(":")[0]: line.split()[1:2] for line in status.splitlines() if ":" in line}
    kib = {k: float(v[0]) / 1024 for k, v in fields.items() if v and k in ("VmHWM", "VmRSS", "RssAnon")}
    proc.hwm_mib = max(proc.hwm_mib, kib.get("VmHWM", 0.0))
    proc.anon_mib = max(proc.anon_mib, kib.get("RssAnon", 0.0))
    ticks = stat[stat.rindex(")") + 2 :].split()
    proc.cpu_s = max(proc.cpu_s, (int(ticks[11]) + int(ticks[12])) / _TICK)
    return kib.get("VmRSS", 0.0)


def run_tree(
    cmd: list[str], stdout_path: str, interval: float = 0.2, extra_ray: bool = False, stderr_path: str | None = None
) -> TreeRun:
    """Run ``cmd`` (stdout to ``stdout_path``, stderr to ``stderr_path`` or kept) and sample its tree until it exits."""
    before = set(_parents()) if extra_ray else set()
    seen: dict[int, Proc] = {}
    peak_total = 0.0
    with open(stdout_path, "wb") as out, open(stderr_path or os.devnull, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err if stderr_path else None)
        while True:
            parents = _parents()
            tree, frontier = {child.pid}, [child.pid]
            children: dict[int, list[int]] = {}
            for pid, ppid in parents.items():
                children.setdefault(ppid, []).append(pid)
            while frontier:
                for kid in children.get(frontier.pop(), []):
                    if kid not in tree:
                        tree.add(kid)
                        frontier.append(kid)
            if extra_ray:
                tree |= {pid for pid in parents if pid not in before and _title(pid).startswith("ray::")}
            total = 0.0
            for pid in tree:
                if pid not in seen:
                    title = _title(pid)
                    seen[pid] = Proc(pid, _role(pid, child.pid, title), title[:80])
                elif seen[pid].role in ("worker", "ray worker") and not seen[pid].title.startswith("ray::"):
                    title = _title(pid)  # a Ray worker takes its ray:: title after it starts
                    if title.startswith("ray::"):
                        seen[pid].role, seen[pid].title = "ray worker", title[:80]
                total += _sample(seen[pid])
            peak_total = max(peak_total, total)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(interval)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return TreeRun(wall, child.returncode, list(seen.values()), peak_total, usage.ru_utime + usage.ru_stime)
