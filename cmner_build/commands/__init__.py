"""CLI commands, one module per stage. Each module exposes `register(app)`.

Modules here import only typer and the standard library at import time; the work is imported
inside each command so that `cmner-build --help` answers quickly.
"""

from __future__ import annotations

from typing import Callable

import typer

from . import agreement, annotate, audit, baseline, clean, core, crawl, demo, translate

REGISTRARS: list[Callable[[typer.Typer], None]] = [
    core.register,
    crawl.register,
    clean.register,
    annotate.register,
    agreement.register,
    audit.register,
    baseline.register,
    translate.register,
    demo.register,
]

