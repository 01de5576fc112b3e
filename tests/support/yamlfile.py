"""YAML for tests, parsed by libyaml: the promtool test files are several MB (the generated
decisions alone 3.7 MB), and PyYAML's pure-Python loader spent ~50 s of every collection on
them; the C loader reads the same documents with the same safe constructors in ~2 s."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """yaml.safe_load, through libyaml when PyYAML was built with it."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
