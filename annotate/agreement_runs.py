"""Agreement runs in the store (core table agreement_runs): every report is kept, the latest pilot gates push."""

from __future__ import annotations

import json
from typing import Any

from cmner_build.store import Store, utc_now

RUN_ROUNDS: tuple[str, ...] = ("pilot", "all", "vs-gold")


def save_run(store: Store, round_name: str, batch_id: str | None, report: dict[str, Any], passed: bool | None) -> int:
    """Store one run; `passed` only for the pilot gate (NULL otherwise). Returns the run id."""
    if round_name not in RUN_ROUNDS:
        raise ValueError(f"unknown agreement round {round_name!r}")
    strict = (report.get("strict_f1") or {}).get("value")
    with store.transaction():
        cursor = store.execute(
            "INSERT INTO agreement_runs (created_at, round, batch_id, strict_f1, passed, report) VALUES (?, ?, ?, ?, ?, ?)",
            (utc_now(), round_name, batch_id, strict, None if passed is None else int(passed),
             json.dumps(report, ensure_ascii=False, sort_keys=True)),
        )
        store.log_event("agreement", round_name, f"agreement run {cursor.lastrowid}: strict F1 {strict}",
                        run_id=cursor.lastrowid, batch_id=batch_id, passed=passed)
    return int(cursor.lastrowid)


def latest_pilot_gate(store: Store) -> bool | None:
    """Whether the latest pilot run passed; None when the pilot was never measured. (`annotate push` asks this.)"""
    row = store.query("SELECT passed FROM agreement_runs WHERE round = 'pilot' ORDER BY run_id DESC LIMIT 1")
    if not row or row[0]["passed"] is None:
        return None
    return bool(row[0]["passed"])
