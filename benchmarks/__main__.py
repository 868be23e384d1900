"""``python -m benchmarks``: run every benchmark module of this folder that has a ``main()``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    failed = 0
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        print(f"== {info.name}", flush=True)
        code = entry([]) if inspect.signature(entry).parameters else entry()
        failed += int(bool(code))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
