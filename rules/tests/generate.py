"""Write rules/tests/*.yml, the promtool tests of rules/*.yml, from scenarios.py beside it.

    python rules/tests/generate.py          # rewrite the files
    python rules/tests/generate.py --check  # exit 1 if a file differs from what it would write

tests/rules/test_rules.py runs the check, so the files and the scenarios never drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run as a script the folder holding this file is sys.path[0]; the scenarios are imported as
# `rules.tests.scenarios` (as the tests import them), so the repository root goes first.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rules.tests.scenarios import generated  # noqa: E402 - needs the path above


def stale_files(write: bool) -> list[Path]:
    """The generated files whose text differs from the scenarios' (rewritten when `write`)."""
    stale = []
    for path, text in generated().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if write:
            path.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = stale_files(write=not args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(REPO)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
