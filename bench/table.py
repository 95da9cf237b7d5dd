#!/usr/bin/env python3
"""Turns the JSON lines of `cnx-storage bench --json` runs (labelled per server) into one
Markdown table: a column per server, and per cnx-storage column its ratio to the best peer
(every label not starting with "cnx") measured in the same run."""

from __future__ import annotations

import json
import sys
from collections import OrderedDict


def size_text(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def row_name(r: dict) -> str:
    w = r["workload"]
    if w == "list":
        return "LIST 1,000-key pages"
    flight = "1 stream" if r["concurrency"] == 1 else f"{r['concurrency']} in flight"
    return f"{w.upper()} {size_text(r['size'])}, {flight}"


def value(r: dict) -> tuple[float, str]:
    """The figure a row compares, and its unit."""
    if r["workload"] == "list":
        return r["ops_per_sec"], "pages/s"
    if r["size"] >= 1 << 20 and r["bytes"] > 0:
        return r["mib_per_sec"], "MiB/s"
    return r["ops_per_sec"], "ops/s"


def fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def main(path: str) -> None:
    rows: "OrderedDict[str, dict]" = OrderedDict()
    labels: list[str] = []
    rss: dict[str, float] = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            label = r["label"]
            if label not in labels:
                labels.append(label)
            if r.get("server"):
                rss[label] = max(rss.get(label, 0.0), r["server"]["peak_rss_mib"])
            # The small objects a LIST run writes first are not a row of their own.
            if r["size"] < 1024 and r["workload"] != "list":
                continue
            name = row_name(r)
            v, unit = value(r)
            entry = rows.setdefault(name, {"unit": unit, "by": {}})
            note = "" if r["errors"] == 0 else f" ({r['errors']} errors)"
            entry["by"][label] = (v, note, r["latency"]["p99_ms"])
    ours = [l for l in labels if l.startswith("cnx")]
    peers = [l for l in labels if not l.startswith("cnx")]
    head = ["workload", *labels] + [f"{o} / best peer" for o in ours if peers]
    out = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, entry in rows.items():
        cells = [f"{name} ({entry['unit']})"]
        for l in labels:
            if l in entry["by"]:
                v, note, p99 = entry["by"][l]
                cells.append(f"{fmt(v)}{note} <sub>p99 {p99:.1f} ms</sub>")
            else:
                cells.append("-")
        best = max((entry["by"][p][0] for p in peers if p in entry["by"]), default=0.0)
        for o in ours:
            if not peers:
                break
            if o in entry["by"] and best > 0:
                cells.append(f"{entry['by'][o][0] / best:.2f}")
            else:
                cells.append("-")
        out.append("| " + " | ".join(cells) + " |")
    cells = ["server peak RSS (MiB, any workload)"]
    cells += [f"{rss[l]:.0f}" if l in rss else "-" for l in labels]
    cells += [""] * (len(head) - len(cells))
    out.append("| " + " | ".join(cells) + " |")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
