#!/usr/bin/env python3
"""Idle cost on a shared machine: stakeout (every probe, recording), stakeout
(every probe, --no-record), `top -b -d 1` and `atop 1` run side by side for
MINUTES, and their CPU is read every WINDOW seconds together with what the
rest of the machine used in the same window (/proc/stat's busy time minus the
four tools'). A window where the rest of the machine used under QUIET% of one
core is a quiet window: the medians over those are the idle figures, the
medians over every window say what a busy host costs. On a machine nobody
else uses every window is quiet; on a shared one (CI, the engineers' own
box) the quiet windows are the ones to believe.

CPU per tool: the run time of all its threads (/proc/PID/task/*/schedstat,
ns), so a thread that ended in the window is missed (stakeout's threads live
as long as it does). RSS: VmRSS at the end and VmHWM (the peak).

Usage: bench/quiet.py [MINUTES] [WINDOW] [QUIET]   (default 10, 10, 5)
Env: STAKEOUT_BIN (./bin/stakeout), WARMUP (15 s: past diskfill's 10 s
warm-up scans), QUIET_ARGS (flags added to both stakeouts).
Asserts nothing; prints a row per window and the medians.
"""
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MINUTES = float(sys.argv[1]) if len(sys.argv) > 1 else 10
WINDOW = float(sys.argv[2]) if len(sys.argv) > 2 else 10
QUIET = float(sys.argv[3]) if len(sys.argv) > 3 else 5
BIN = os.environ.get("STAKEOUT_BIN", "./bin/stakeout")
WARMUP = float(os.environ.get("WARMUP", "15"))
ARGS = shlex.split(os.environ.get("QUIET_ARGS", ""))
TICK = os.sysconf("SC_CLK_TCK")


def run_ns(pid):
    """Run time of every thread of pid, in ns; None once pid is gone."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def machine_busy_ns():
    """Busy time of every CPU since boot (user, nice, system, irq, softirq,
    steal), in ns."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) * 1e9 / TICK


def status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    span = int(WARMUP + MINUTES * 60 + 30)
    tmp = tempfile.mkdtemp(prefix="stakeout-quiet.")
    tools = {
        "stakeout (all, recording)": [BIN, "snapshot", "--duration", f"{span}s", "-o", f"{tmp}/all.stk", *ARGS],
        "stakeout (all, --no-record)": [BIN, "snapshot", "--duration", f"{span}s", "--no-record", *ARGS],
        "top -b -d 1": ["top", "-b", "-d", "1", "-n", str(span)],
        "atop 1": ["atop", "1", str(span)],
    }
    procs = {}
    for name, argv in tools.items():
        try:
            procs[name] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            print(f"{argv[0]} is not installed: left out", file=sys.stderr)
    try:
        time.sleep(WARMUP)
        names = list(procs)
        print(f"== {MINUTES:g} min in {WINDOW:g} s windows after {WARMUP:g} s; {os.cpu_count()} CPUs; "
              f"quiet = the rest of the machine under {QUIET:g}% of one core ==")
        print(f"{'window':>6} {'rest':>7} " + " ".join(f"{n[:26]:>27}" for n in names))
        rows = []
        prev = {n: run_ns(procs[n].pid) for n in names}
        prev_m = machine_busy_ns()
        end = time.monotonic() + MINUTES * 60
        i = 0
        while time.monotonic() < end:
            time.sleep(WINDOW)
            cur = {n: run_ns(procs[n].pid) for n in names}
            cur_m = machine_busy_ns()
            if any(cur[n] is None or prev[n] is None for n in names):
                print("a tool ended early: stopping", file=sys.stderr)
                break
            pct = {n: 100 * (cur[n] - prev[n]) / 1e9 / WINDOW for n in names}
            ours = sum(cur[n] - prev[n] for n in names)
            rest = max(0.0, 100 * (cur_m - prev_m - ours) / 1e9 / WINDOW)
            rows.append((rest, pct))
            i += 1
            print(f"{i:>6} {rest:>6.1f}% " + " ".join(f"{pct[n]:>26.2f}%" for n in names), flush=True)
            prev, prev_m = cur, cur_m
        rss = {n: (status(procs[n].pid, "VmRSS"), status(procs[n].pid, "VmHWM")) for n in names}
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["rm", "-rf", tmp])
    quiet = [r for r in rows if r[0] < QUIET]
    print()
    print(f"{'tool':<30} {'quiet windows':>14} {'every window':>13} {'rss_kb':>8} {'peak_kb':>8}")
    for n in names:
        q = f"{statistics.median(r[1][n] for r in quiet):.2f}%" if quiet else "-"
        a = f"{statistics.median(r[1][n] for r in rows):.2f}%" if rows else "-"
        print(f"{n:<30} {q:>14} {a:>13} {rss[n][0]:>8} {rss[n][1]:>8}")
    print(f"{len(quiet)} of {len(rows)} windows quiet; the rest of the machine's median: "
          f"{statistics.median(r[0] for r in rows) if rows else 0:.1f}% of one core")


if __name__ == "__main__":
    main()
