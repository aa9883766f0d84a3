"""End to end through the commands: three annotators' spans -> gate -> agreement -> adjudication -> gold -> export.

Every conflict type is met and settled, by each route: the majority, the terminal review, the Doccano
export (by file and through the server interface) and the auto policy.
"""

import io
import json

from cmner_build.annotate.adjudication import server as adjudication_server
from cmner_build.annotate.adjudication.server import pull_from_server, push_to_server
from cmner_build.annotate.adjudication.store import load_posts
from cmner_build.annotate.doccano.api import jsonl_import_bytes
from cmner_build.annotate.doccano.examples import read_export_zip
from cmner_build.model import Span

from tests.agreement_helpers import add_batch, export_zip, exported_line
from tests.helpers import run_cli

ANN = ["ann1", "ann2", "ann3"]
PILOT_TEXT = "王小明在北京大学读书了"
MAIN = {
    # post: (text, versions)                                                       conflict
    "m-agree": ("李华在广州开了店", {"ann1": [(0, 2, "PER"), (3, 5, "LOC")], "ann2": [(0, 2, "PER"), (3, 5, "LOC")],
                                   "ann3": [(0, 2, "PER"), (3, 4, "LOC")]}),             # none (C outvoted)
    "m-boundary": ("我们去了上海迪士尼乐园玩", {"ann1": [(4, 9, "LOC")], "ann2": [(4, 11, "LOC")], "ann3": []}),
    "m-type": ("鸟巢今晚有比赛", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "ORG")], "ann3": []}),
    "m-presence": ("李华说腾讯很好", {"ann1": [(0, 2, "PER"), (3, 5, "ORG")], "ann2": [(0, 2, "PER")],
                                   "ann3": [(0, 2, "PER")]}),
    "m-mixed": ("北京鸟巢很大", {"ann1": [(0, 4, "LOC")], "ann2": [(0, 2, "LOC"), (2, 4, "ORG")], "ann3": []}),
    "m-emoji": ("😀今天在𠮷野家吃饭", {"ann1": [(4, 7, "ORG")], "ann2": [(4, 7, "MISC")], "ann3": [(3, 7, "ORG")]}),
    "m-empty": ("今天天气不错", {"ann1": [], "ann2": [], "ann3": []}),
}


def fill(store):
    good = [(0, 3, "PER"), (4, 8, "ORG")]
    add_batch(store, "pilot", "pilot", ANN,
              {f"p{i}": (PILOT_TEXT, {"ann1": good, "ann2": good, "ann3": good if i else [(0, 3, "PER")]})
               for i in range(12)})
    add_batch(store, "batch-0001", "main", ANN, MAIN)


def cluster_types(store):
    return {row["post_id"]: row["conflict_type"] for row in store.query("SELECT post_id, conflict_type FROM adjudication_clusters")}


def test_three_annotators_to_gold_through_every_conflict_type(workspace, tmp_path):
    store, root = workspace.store, workspace.root
    fill(store)
    gate = run_cli("-w", root, "agreement", "--round", "pilot", "--bootstrap", "100")
    assert gate.exit_code == 0 and "PASS" in gate.stdout, gate.output
    everything = json.loads(run_cli("-w", root, "agreement", "--json", "--bootstrap", "100").stdout)
    assert everything["posts"] == 19
    assert everything["lowest_posts"][0]["post_id"] in {"m-type", "m-mixed", "m-boundary", "m-emoji"}

    merged = json.loads(run_cli("-w", root, "adjudicate", "--json").stdout)
    assert merged["clusters_by_type"] == {"boundary": 1, "type": 1, "presence": 1, "mixed": 2}
    assert cluster_types(store) == {"m-boundary": "boundary", "m-type": "type", "m-presence": "presence",
                                    "m-mixed": "mixed", "m-emoji": "mixed"}
    assert merged["settled_now"] == {**{f"p{i}": "gold" for i in range(12)}, "m-agree": "gold", "m-empty": "dropped"}
    assert merged["open_posts"] == 5

    # the terminal review: boundary -> the full name, type -> ORG, then stop
    review = run_cli("-w", root, "adjudicate", "--interactive", input="2\nboundary_convention\n2\n2 venue run by a club\nq\n")
    assert review.exit_code == 0, review.output
    assert "conflict 1/5" in review.stderr and "post m-boundary settled: gold" in review.stderr

    # the Doccano file for the rest, decided in "Doccano", pulled from its export zip
    payload = tmp_path / "adjudication.jsonl"
    assert run_cli("-w", root, "adjudicate", "--jsonl", payload).exit_code == 0
    records = {r["post_id"]: r for r in map(json.loads, payload.read_text().splitlines())}
    assert set(records) == {"m-presence", "m-mixed", "m-emoji"}
    assert records["m-emoji"]["label"] == [[5, 9, "ORG"]]  # suggestion 𠮷野家 ORG, in UTF-16 units
    lines = [
        exported_line(records["m-presence"], 1, [[0, 2, "PER"], [3, 5, "ORG"]], ["reason: annotator_slip"]),
        exported_line(records["m-mixed"], 2, [[0, 2, "LOC"], [2, 4, "LOC"]], ["reason 1: boundary_convention"]),
        exported_line(records["m-emoji"], 3, [[5, 9, "MISC"]], ["reason: guideline_gap"]),
    ]
    export_zip(tmp_path / "export.zip", {"judge": lines, "admin": []})
    pulled = json.loads(run_cli("-w", root, "adjudicate", "pull", "--from-export", tmp_path / "export.zip",
                                "--json").stdout)
    assert pulled["settled"] == {"m-presence": "gold", "m-mixed": "gold", "m-emoji": "gold"}

    gold = store.gold_spans()
    assert gold["m-boundary"] == [Span(4, 11, "LOC")]
    assert gold["m-type"] == [Span(0, 2, "ORG")]
    assert gold["m-presence"] == [Span(0, 2, "PER"), Span(3, 5, "ORG")]
    assert gold["m-mixed"] == [Span(0, 2, "LOC"), Span(2, 4, "LOC")]
    assert gold["m-emoji"] == [Span(4, 7, "MISC")]  # 𠮷野家 in code points
    assert gold["m-agree"] == [Span(0, 2, "PER"), Span(3, 5, "LOC")]
    assert "m-empty" not in gold
    statuses = {row["post_id"]: row["status"] for row in store.query("SELECT post_id, status FROM posts")}
    assert statuses["m-empty"] == "dropped" and all(s == "gold" for p, s in statuses.items() if p != "m-empty")
    reasons = {(r["post_id"], r["reason"]) for r in store.query("SELECT post_id, reason FROM adjudication_clusters")}
    assert reasons == {("m-boundary", "boundary_convention"), ("m-type", "ambiguous"), ("m-presence", "annotator_slip"),
                       ("m-mixed", "boundary_convention"), ("m-emoji", "guideline_gap")}

    exported = run_cli("-w", root, "export", "--format", "jsonl")
    assert exported.exit_code == 0, exported.output
    ids = {json.loads(line)["id"] for split in ("train", "dev", "test")
           for line in (root / "exports" / "jsonl" / f"{split}.jsonl").read_text().splitlines()}
    assert ids == {f"p{i}" for i in range(12)} | set(MAIN) - {"m-empty"}

    versus = json.loads(run_cli("-w", root, "agreement", "--vs-gold", "--json", "--bootstrap", "50").stdout)
    assert versus["posts"] == 19
    scores = {entry["annotator"]: entry["strict"]["f1"] for entry in versus["annotators"]}
    assert scores["ann1"] > scores["ann3"]
    assert store.scalar("SELECT COUNT(*) FROM agreement_runs WHERE round = 'vs-gold'") == 1


class FakeDoccano:
    """A stand-in speaking the AdjudicationServer interface, for the command flow without a server (the
    real server is in tests/test_adjudication_served.py).

    It keeps what was uploaded and answers `download_export` with what `read_export_zip` makes of a zip in
    Doccano's export format, holding the examples the adjudicator "confirmed" (set by the test with `decide`).
    """

    url = "http://doccano.invalid"

    def __init__(self):
        self.projects: dict[int, dict] = {}
        self.decisions: dict[tuple[int, str], tuple[list, list]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def ensure_user(self, username):
        return False

    def create_project(self, name, description, guideline):
        for project_id, project in self.projects.items():
            if project["name"] == name:
                return project_id
        project_id = len(self.projects) + 1
        self.projects[project_id] = {"name": name, "members": {}, "records": {}}
        return project_id

    def check_project(self, project_id, name, batch_id):
        assert self.projects[project_id]["name"] == name

    def add_member(self, project_id, username, role):
        self.projects[project_id]["members"][username] = role

    def upload_records(self, project_id, records, owner, *, batch_id):
        held = self.projects[project_id]["records"]
        for record in map(json.loads, jsonl_import_bytes(records).splitlines()):  # as the file Doccano gets
            held.setdefault(record["post_id"], (len(held) + 1, record, owner))
        return {post_id: example_id for post_id, (example_id, _, _) in held.items()}

    def decide(self, project_id, post_id, label, comments):
        self.decisions[(project_id, post_id)] = (label, comments)

    def download_export(self, project_id):
        project = self.projects[project_id]
        files = {name: [] for name in project["members"]}
        for post_id, (example_id, record, owner) in project["records"].items():
            if (project_id, post_id) in self.decisions:
                label, comments = self.decisions[(project_id, post_id)]
                files[owner].append(exported_line(record, example_id, label, comments))
        buffer = io.BytesIO()
        export_zip(buffer, files)
        return read_export_zip(buffer.getvalue())


def test_the_doccano_round_trip_through_the_server_interface(workspace, monkeypatch):
    store, root = workspace.store, workspace.root
    fill(store)
    server = FakeDoccano()
    monkeypatch.setattr(adjudication_server, "connect_adjudication_server", lambda workspace, url=None: server)
    pushed = run_cli("-w", root, "adjudicate", "--doccano", "--adjudicator", "judge", "--json")
    assert pushed.exit_code == 0, pushed.output
    result = json.loads(pushed.stdout)["doccano"]
    assert (result["batch_id"], result["project_id"], result["posts"]) == ("adjudication-0001", 1, 5)
    assert server.projects[1]["members"] == {"judge": "project_admin"}
    assert store.query("SELECT round, project_id FROM batches WHERE batch_id = 'adjudication-0001'")[0]["project_id"] == 1
    assert store.scalar("SELECT COUNT(example_id) FROM batch_posts WHERE batch_id = 'adjudication-0001'") == 5
    # a second push sends nothing new: the posts are out for adjudication already
    again = push_to_server(store, server, load_posts(store, state="open"), "judge", ["ambiguous"])
    assert (again.project_id, len(again.already_out)) == (None, 5)

    server.decide(1, "m-type", [[0, 2, "ORG"]], ["reason: ambiguous"])
    server.decide(1, "m-presence", [[0, 2, "PER"]], ["no reason given yet"])
    pulled = run_cli("-w", root, "adjudicate", "pull", "--json")
    assert json.loads(pulled.stdout)["settled"] == {"m-type": "gold"}
    assert json.loads(pulled.stdout)["undecided"] == ["m-presence"]
    for post_id in ("m-boundary", "m-presence", "m-mixed", "m-emoji"):
        server.decide(1, post_id, [], ["reason: annotator_slip"])
    report = pull_from_server(store, server, ["annotator_slip"])
    assert set(report.settled) == {"m-boundary", "m-presence", "m-mixed", "m-emoji"}
    assert all(status == "dropped" for status in report.settled.values())
    assert load_posts(store, state="open") == []
    assert pull_from_server(store, server, ["annotator_slip"]).settled == {}  # nothing waits any more


def test_auto_majority_settles_the_demo_offline(workspace):
    fill(workspace.store)
    result = run_cli("-w", workspace.root, "adjudicate", "--auto", "majority", "--json")
    summary = json.loads(result.stdout)
    assert summary["auto_decided"] == 5 and summary["open_posts"] == 0
    gold = workspace.store.gold_spans()
    assert gold["m-boundary"] == [Span(4, 9, "LOC")]  # the character majority
    assert gold["m-emoji"] == [Span(4, 7, "ORG")]  # 𠮷野家: ORG twice per character, MISC once
    assert "m-type" not in gold  # LOC / ORG / nothing: no majority, no entity -> dropped
    reasons = {r[0] for r in workspace.store.query("SELECT DISTINCT reason FROM adjudication_clusters")}
    assert reasons == {"auto_majority"}


def test_adjudicate_reports_no_annotations_and_refuses_two_modes(workspace):
    empty = run_cli("-w", workspace.root, "adjudicate")
    assert empty.exit_code == 2 and "no annotations to adjudicate" in empty.error
    both = run_cli("-w", workspace.root, "adjudicate", "--interactive", "--auto", "majority")
    assert both.exit_code == 2 and "choose one of --interactive, --auto" in both.error
    no_server = run_cli("-w", workspace.root, "adjudicate", "pull")
    assert no_server.exit_code == 2 and "--from-export" in no_server.error
    assert "--auto must be one of majority" in run_cli("-w", workspace.root, "adjudicate", "--auto", "vote").error


def test_this_stages_demo_steps_pass_the_gate_and_settle_everything(workspace):
    from cmner_build.commands.demo import DEMO_STEPS

    fill(workspace.store)
    steps = [step.args for step in DEMO_STEPS  # callables choose annotate steps at run time
             if not callable(step.args) and step.args[0] in ("agreement", "adjudicate")]
    assert [args[0] for args in steps] == ["agreement", "agreement", "adjudicate"]
    results = [run_cli("-w", workspace.root, *args) for args in steps]
    assert [result.exit_code for result in results] == [0, 0, 0], [r.output for r in results]
    assert "PASS" in results[0].stdout
    assert workspace.store.scalar("SELECT COUNT(*) FROM adjudication_posts WHERE state = 'open'") == 0
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE status = 'gold'") == 17  # m-empty and m-type dropped
