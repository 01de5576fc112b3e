"""Writes the Grafana dashboards: `python dashboards/generate.py`, then commit the JSON.

The dashboards are built by the galera_dashboards package beside this script (one module per
dashboard over a small panel/query library); tests/dashboards checks that the committed files
equal its output. With --check, only report whether the committed files are current.
"""

from __future__ import annotations

import sys

from galera_dashboards import generated


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in generated().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run python dashboards/generate.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
