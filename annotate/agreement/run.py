"""The entry point of `cmner-build agreement`: measure, apply the pilot gate, store the run.

`measure_agreement` takes the store and the workspace settings and returns an `AgreementOutcome`:
the report (what `--json` prints), the gate's verdict when the round is the pilot, and a sentence
instead of a report when there is nothing to measure. The CLI only prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cmner_build.config import Settings
from cmner_build.errors import CmnerError
from cmner_build.store import Store

from cmner_build.annotate.adjudication.store import settled_versions
from cmner_build.annotate.agreement.data import load_annotated_posts
from cmner_build.annotate.agreement.gate import GateResult, GateSettings, evaluate_gate
from cmner_build.annotate.agreement.measures import AgreementOptions, compute_agreement, compute_vs_gold
from cmner_build.annotate.agreement.runs import save_run
from cmner_build.annotate.suggestions import suggestion_counts
from cmner_build.annotate.settings import agreement_settings

ROUNDS = ("pilot", "all")


@dataclass
class AgreementOutcome:
    kind: str  # "agreement" or "vs-gold"
    report: dict[str, Any]  # the stored report; when nothing was measured, the short JSON answer
    nothing_to_measure: str | None = None  # the sentence said instead of a report
    gate: GateResult | None = None
    gate_applies: bool = False  # --round pilot: a missing or failed gate is a failure
    incomplete: int = 0  # posts not yet confirmed by all their annotators

    @property
    def gate_failed(self) -> bool:
        return self.gate_applies and (self.gate is None or not self.gate.passed)


def measure_agreement(store: Store, settings: Settings, round_name: str = "all", batch: str | None = None,
                      vs_gold: bool = False, replicates: int | None = None) -> AgreementOutcome:
    """Agreement of a round (or of each annotator against gold), stored as a run."""
    if round_name not in ROUNDS:
        raise CmnerError(f"--round must be one of {', '.join(ROUNDS)}, not {round_name!r}")
    stage_settings = agreement_settings(settings)
    if replicates is not None and replicates < 0:
        raise CmnerError("--bootstrap must not be negative")
    options = AgreementOptions(replicates=stage_settings.replicates if replicates is None else replicates,
                               seed=stage_settings.seed, lowest=stage_settings.lowest)
    if vs_gold:
        posts, gold = settled_versions(store, batch)
        if not posts:
            return AgreementOutcome("vs-gold", {"posts": 0},
                                    "no adjudicated posts yet: run `cmner-build adjudicate` first")
        report = compute_vs_gold(posts, gold, options)
        report["run_id"] = save_run(store, "vs-gold", batch, report, None)
        return AgreementOutcome("vs-gold", report)

    data = load_annotated_posts(store, round_name, batch)
    gate_settings = GateSettings.from_settings(settings) if round_name == "pilot" else None
    if not data.posts:
        what = "pilot " if round_name == "pilot" else ""
        message = (f"no {what}annotations to measure: no {what}post is confirmed by all its annotators yet "
                   f"({len(data.batches)} batches, {data.incomplete} posts waiting); run `cmner-build annotate pull`")
        answer = {"posts": 0, "incomplete": data.incomplete, "gate": None if gate_settings is None else
                  {"passed": False, "reasons": [message]}}
        return AgreementOutcome("agreement", answer, message, gate_applies=gate_settings is not None,
                                incomplete=data.incomplete)
    report = compute_agreement(data.posts, options)
    report.update(round=round_name, batch_id=batch, incomplete=data.incomplete)
    report["suggestions"] = suggestion_counts(store, data.batches)  # model suggestions kept / changed / deleted
    gate = None
    if gate_settings is not None:
        gate = evaluate_gate(report, gate_settings)
        report["gate"] = {**gate.to_dict(), "settings": gate_settings.__dict__}
    report["run_id"] = save_run(store, round_name, batch, report, None if gate is None else gate.passed)
    return AgreementOutcome("agreement", report, gate=gate, gate_applies=gate_settings is not None,
                            incomplete=data.incomplete)
