"""Medians over a bench's rounds, with each one's ratio to a baseline.

usage: medians.py FILE BASE [PREFIX [WIDTH]]
FILE holds lines "LABEL VALUE" (VALUE "-" when a round had none); BASE is
the label of the baseline (tcpdump's CPU); only labels starting with
PREFIX get a ratio. Shared by bench/packets.sh and bench/stream.sh.
"""
import collections
import statistics
import sys

path, base_label = sys.argv[1], sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else ""
width = int(sys.argv[4]) if len(sys.argv) > 4 else 44
rows = collections.OrderedDict()
for line in open(path):
    label, v = line.rsplit(" ", 1)
    if v.strip() != "-":
        rows.setdefault(label, []).append(float(v))
base = statistics.median(rows[base_label]) if base_label in rows else None
for label, vs in rows.items():
    m = statistics.median(vs)
    ratio = f"  ({m / base:.2f}x {base_label})" if base and label.startswith(prefix) else ""
    print(f"{label:{width}s} {m:.3f}{ratio}")
