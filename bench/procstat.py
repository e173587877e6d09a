"""CPU and memory figures from /proc, for the benchmark drivers."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # fields from 3 (state) on


def descendants(pid: int) -> list[int]:
    """pid and every live process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(name))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def stat_cpu_ms(pid: int) -> float:
    """utime + stime of the process (all its threads, live or exited), in ms; tick resolution."""
    f = _stat_fields(pid)
    return (int(f[11]) + int(f[12])) * 1000 / CLK_TCK


def sched_cpu_ms(pid: int) -> float:
    """On-CPU time of the process's live threads from schedstat (ns resolution), in ms."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e6


def tree_cpu_ms(pid: int) -> dict[str, float]:
    """Both figures summed over pid and its descendants."""
    out = {"stat_ms": 0.0, "sched_ms": 0.0}
    for p in descendants(pid):
        try:
            out["stat_ms"] += stat_cpu_ms(p)
            out["sched_ms"] += sched_cpu_ms(p)
        except (OSError, ValueError, IndexError):
            pass
    return out


def mem_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def cores_busy_ms() -> dict[int, float]:
    """Busy (non-idle, non-iowait) time per core since boot, in ms."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                out[int(name[3:])] = (sum(v[:8]) - idle) * 1000 / CLK_TCK
    return out


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
