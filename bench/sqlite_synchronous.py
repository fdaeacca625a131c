"""What `PRAGMA synchronous=FULL` costs per commit against NORMAL (WAL mode).

One commit per segment index row, as the uploader does; the database file lives on
the disk given (default: a temporary directory under var/, the spool's disk).

    .venv/bin/python bench/sqlite_synchronous.py [--rows 400] [--dir var]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def run(folder: Path, mode: str, rows: int) -> list[float]:
    path = folder / f"bench-{mode}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={mode}")
    conn.execute("CREATE TABLE seg (id TEXT PRIMARY KEY, camera TEXT, start TEXT, size INT)")
    times = []
    for i in range(rows):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO seg VALUES (?, ?, ?, ?)", (f"seg_{i}", "cam", str(i), 1 << 20))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=Path("var"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"{'synchronous':<12} {'commits':>8} {'p50 ms':>8} {'p95 ms':>8} {'commits/s':>10}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for mode in ("NORMAL", "FULL"):
            times = run(Path(tmp), mode, args.rows)
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[18]
            rate = len(times) / (sum(times) / 1000)
            print(f"{mode:<12} {len(times):>8} {p50:>8.3f} {p95:>8.3f} {rate:>10.0f}")


if __name__ == "__main__":
    main()
