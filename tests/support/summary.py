"""End-of-run tables (lab scenario timings, e2e alert timings) that survive pytest-xdist.

A folder's conftest hands its table to `publish` at session end. Run serially, the table is
printed by the root conftest's terminal summary; on an xdist worker it travels to the
controller in `workeroutput` (the worker's own terminal is never shown) and is printed there.
"""

from __future__ import annotations

import pytest

# title -> lines, in the order tables were published
SECTIONS: dict[str, list[str]] = {}


def publish(config: pytest.Config, title: str, lines: list[str]) -> None:
    if not lines:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput.setdefault("summaries", {})[title] = lines
    else:
        SECTIONS.setdefault(title, []).extend(lines)


def received(summaries: dict[str, list[str]]) -> None:
    """A worker's tables, as the controller gets them when the worker finishes."""
    for title, lines in summaries.items():
        SECTIONS.setdefault(title, []).extend(lines)


def write(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in SECTIONS.items():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
