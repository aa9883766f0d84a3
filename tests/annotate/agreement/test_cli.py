"""`cmner-build agreement`: the gate's exit status, stored runs, JSON, and the empty cases."""

import json

from cmner_build.annotate.agreement.runs import latest_pilot_gate

from tests.agreement_helpers import add_batch
from tests.helpers import run_cli

GOOD = [(0, 2, "PER"), (3, 5, "LOC")]


def add_pilot(store, posts=12, bad=False):
    versions = {}
    for i in range(posts):
        third = [(0, 2, "PER"), (3, 6, "LOC")] if bad and i % 2 == 0 else GOOD
        versions[f"p{i}"] = ("王明在北京读书了", {"ann1": GOOD, "ann2": GOOD, "ann3": third})
    add_batch(store, "pilot", "pilot", ["ann1", "ann2", "ann3"], versions)


def test_pilot_gate_passes_prints_tables_and_stores_the_run(workspace):
    add_pilot(workspace.store)
    result = run_cli("-w", workspace.root, "agreement", "--round", "pilot", "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout
    assert "Pairwise strict F1" in result.stdout and "Krippendorff α" in result.stdout
    assert latest_pilot_gate(workspace.store).passed is True
    row = workspace.store.query("SELECT round, strict_f1, passed, report FROM agreement_runs")[0]
    assert (row["round"], row["strict_f1"], row["passed"]) == ("pilot", 1.0, 1)
    assert json.loads(row["report"])["gate"]["passed"] is True


def test_pilot_gate_fails_with_exit_status_1_and_reasons(workspace):
    add_pilot(workspace.store, bad=True)
    result = run_cli("-w", workspace.root, "agreement", "--round", "pilot", "--bootstrap", "0")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "below 0.90" in result.stdout
    assert latest_pilot_gate(workspace.store).passed is False


def test_threshold_from_cmner_toml(workspace):
    add_pilot(workspace.store, bad=True)
    text = workspace.config_path.read_text().replace("pilot_threshold = 0.90", "pilot_threshold = 0.80")
    workspace.config_path.write_text(text.replace("min_pair_f1 = 0.85", "min_pair_f1 = 0.70"))
    result = run_cli("-w", workspace.root, "agreement", "--round", "pilot", "--json", "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["gate"]["passed"] is True
    assert report["gate"]["settings"]["threshold"] == 0.8
    assert report["strict_f1"]["value"] == 5 / 6


def test_json_report_of_all_rounds(workspace):
    add_pilot(workspace.store)
    result = run_cli("-w", workspace.root, "agreement", "--json", "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["round"], report["posts"], report["incomplete"]) == ("all", 12, 0)
    assert "gate" not in report
    assert report["run_id"] == workspace.store.scalar("SELECT MAX(run_id) FROM agreement_runs")
    assert workspace.store.scalar("SELECT passed FROM agreement_runs") is None


def test_no_annotations_yet(workspace):
    result = run_cli("-w", workspace.root, "agreement")
    assert result.exit_code == 2
    assert "no annotations to measure" in result.error
    pilot = run_cli("-w", workspace.root, "agreement", "--round", "pilot")
    assert pilot.exit_code == 1
    assert "FAIL" in pilot.stderr
    assert workspace.store.scalar("SELECT COUNT(*) FROM agreement_runs") == 0
    assert latest_pilot_gate(workspace.store).passed is None
    gold = run_cli("-w", workspace.root, "agreement", "--vs-gold")
    assert gold.exit_code == 2 and "no adjudicated posts" in gold.error


def test_bad_options_are_one_line_errors(workspace):
    assert "--round must be one of" in run_cli("-w", workspace.root, "agreement", "--round", "main").error
    assert "no batch 'x'" in run_cli("-w", workspace.root, "agreement", "--batch", "x").error
