"""dashboards/generate.py loaded as a module (it is a script, not part of a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.dashboards import promql


def _load() -> ModuleType:
    path = promql.DASHBOARD_DIR / "generate.py"
    spec = importlib.util.spec_from_file_location("dashboards_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load()
