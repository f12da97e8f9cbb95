"""Shared test setup: the engine package is importable straight from the source tree."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "rplugin" / "python3"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
