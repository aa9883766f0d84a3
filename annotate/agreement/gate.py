"""The pilot gate: main annotation starts only when the pilot agreement is good enough.

The primary bar is the paper's: mean pairwise strict span F1 >= 0.90. The secondary bars (docs/agreement.md,
"Why strict span F1") catch a good mean that hides a bad pair or a bad frequent label, a pilot too small to
mean anything, and (optionally) an interval too wide to trust. All bars come from `[agreement]` in
cmner.toml and are printed with the verdict, so the published "90 %" is unambiguous.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cmner_build.config import Settings
from cmner_build.errors import ConfigError

# Exit status of `agreement --round pilot` when the gate fails (2 stays "bad input", as everywhere).
GATE_FAILED_EXIT_CODE = 1


@dataclass(frozen=True)
class GateSettings:
    threshold: float = 0.90  # mean pairwise strict span F1
    min_pair_f1: float = 0.85  # every pair of annotators
    min_label_f1: float = 0.80  # every frequent label ...
    label_min_mentions: float = 20.0  # ... "frequent": this many mentions per annotator in the pilot
    min_posts: int = 10  # posts confirmed by all pilot annotators
    max_ci_width: float = 0.0  # width of the 95 % interval of the mean strict F1; 0 = not checked

    @classmethod
    def from_settings(cls, settings: Settings) -> "GateSettings":
        defaults = cls()
        gate = cls(
            threshold=settings.get("agreement", "pilot_threshold", float, defaults.threshold),
            min_pair_f1=settings.get("agreement", "min_pair_f1", float, defaults.min_pair_f1),
            min_label_f1=settings.get("agreement", "min_label_f1", float, defaults.min_label_f1),
            label_min_mentions=settings.get("agreement", "label_min_mentions", float, defaults.label_min_mentions),
            min_posts=settings.get("agreement", "min_pilot_posts", int, defaults.min_posts),
            max_ci_width=settings.get("agreement", "max_ci_width", float, defaults.max_ci_width),
        )
        for name in ("threshold", "min_pair_f1", "min_label_f1"):
            if not 0.0 <= getattr(gate, name) <= 1.0:
                raise ConfigError(f"{settings.path or 'cmner.toml'}: agreement.{name} must be between 0 and 1")
        return gate


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why it failed (empty when it passed)
    checks: list[dict[str, Any]] = field(default_factory=list)  # every bar: name, value, bar, ok

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def evaluate_gate(report: dict[str, Any], gate: GateSettings) -> GateResult:
    """PASS or FAIL with the reasons, from a report of compute_agreement on the pilot posts."""
    result = GateResult(passed=True)

    def check(name: str, value: Any, bar: Any, ok: bool, reason: str) -> None:
        result.checks.append({"name": name, "value": value, "bar": bar, "ok": ok})
        if not ok:
            result.reasons.append(reason)

    posts = report.get("posts", 0)
    check("posts", posts, gate.min_posts, posts >= gate.min_posts,
          f"only {posts} pilot posts are confirmed by all their annotators (at least {gate.min_posts} needed)")
    strict = (report.get("strict_f1") or {}).get("value")
    check("mean_pairwise_strict_f1", strict, gate.threshold, strict is not None and strict >= gate.threshold,
          f"mean pairwise strict span F1 {_fmt(strict)} is below {gate.threshold:.2f}"
          if strict is not None else "no annotator pair marked any entity: strict F1 is undefined")
    for pair in report.get("pairs", []):
        value = pair["strict_f1"]
        check(f"pair {pair['a']}/{pair['b']}", value, gate.min_pair_f1,
              value is None or value >= gate.min_pair_f1,
              f"pair {pair['a']} / {pair['b']}: strict F1 {_fmt(value)} is below {gate.min_pair_f1:.2f}")
    for label, values in report.get("per_label", {}).items():
        if values["mentions_per_annotator"] < gate.label_min_mentions:
            continue  # too rare in the pilot to judge on its own
        value = values["strict_f1"]
        check(f"label {label}", value, gate.min_label_f1, value is not None and value >= gate.min_label_f1,
              f"label {label} ({values['mentions_per_annotator']:.0f} mentions per annotator): "
              f"strict F1 {_fmt(value)} is below {gate.min_label_f1:.2f}")
    if gate.max_ci_width > 0:
        interval = (report.get("strict_f1") or {}).get("ci")
        width = None if interval is None else interval[1] - interval[0]
        check("ci_width", width, gate.max_ci_width, width is not None and width <= gate.max_ci_width,
              f"the 95 % interval of the strict F1 is {_fmt(width)} wide (at most {gate.max_ci_width:.2f}): "
              "annotate more pilot posts")
    result.passed = not result.reasons
    return result
