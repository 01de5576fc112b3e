"""Benchmark of the mid-SST datadir walk (collectors/sst_activity.py): cost per scrape.

    python bench/sst_walk_bench.py                      # 3,000 / 20,000 / 100,000 files
    python bench/sst_walk_bench.py --files 200000 --dirs 2000

While sst_in_progress exists, every scrape walks the joiner's datadir (bounded by
MAX_WALK_ENTRIES and WALK_SECONDS). This builds datadirs of empty files spread over
directories, as an InnoDB datadir is (one directory per schema), and times cold and warm walks.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from galera_exporter.collectors.sst_activity import MAX_WALK_ENTRIES, WALK_SECONDS, walk_now


def build(root: Path, files: int, dirs: int) -> None:
    per_dir = max(1, files // dirs)
    made = 0
    for d in range(dirs):
        sub = root / ".sst" / f"db{d}"
        sub.mkdir(parents=True)
        for f in range(per_dir):
            if made == files:
                return
            (sub / f"t{f}.ibd").touch()
            made += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, action="append", help="files (repeatable)")
    parser.add_argument("--dirs", type=int, default=200, help="directories to spread them over")
    parser.add_argument("--runs", type=int, default=5, help="warm walks timed per size")
    args = parser.parse_args()
    sizes = args.files or [3_000, 20_000, 100_000]
    print(f"bounds: {MAX_WALK_ENTRIES} entries, {WALK_SECONDS} s per walk")
    print(f"{'files':>9} {'dirs':>6} {'first ms':>9} {'warm median ms':>15} {'max ms':>8} complete")
    for files in sizes:
        with tempfile.TemporaryDirectory(prefix="sst-walk-bench-") as tmp:
            root = Path(tmp)
            build(root, files, args.dirs)
            started = time.monotonic()
            first = walk_now(root)
            first_ms = (time.monotonic() - started) * 1000
            times = []
            for _ in range(args.runs):
                started = time.monotonic()
                result = walk_now(root)
                times.append((time.monotonic() - started) * 1000)
            complete = "no" if first.incomplete or result.incomplete else "yes"
            print(
                f"{files:>9} {args.dirs:>6} {first_ms:>9.0f} {statistics.median(times):>15.0f}"
                f" {max(times):>8.0f} {complete}"
            )


if __name__ == "__main__":
    main()
