"""Agreement runs in the store (core table agreement_runs): every report is kept, the latest pilot gates push.

This is the one place that reads the pilot gate; `annotate push` and the demo ask `latest_pilot_gate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PilotGate:
    """The verdict of the latest `agreement --round pilot` run: passed True or False, None when the pilot
    was never measured; `why` says which run (or that there is none), for messages."""

    passed: bool | None
    why: str


def latest_pilot_gate(store: Store) -> PilotGate:
    """The gate `annotate push` obeys before the main rounds (and the demo asks): the latest pilot run."""
    row = store.query(
        "SELECT created_at, strict_f1, passed FROM agreement_runs WHERE round = 'pilot' ORDER BY run_id DESC LIMIT 1"
    )
    if not row or row[0]["passed"] is None:
        return PilotGate(None, "no pilot agreement has been measured yet")
    run = row[0]
    f1 = "n/a" if run["strict_f1"] is None else f"{run['strict_f1']:.3f}"
    if run["passed"] == 1:
        return PilotGate(True, f"pilot passed on {run['created_at']} (strict F1 {f1})")
    return PilotGate(False, f"the latest pilot agreement ({run['created_at']}) did not pass (strict F1 {f1})")
