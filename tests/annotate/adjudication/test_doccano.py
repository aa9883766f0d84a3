"""The Doccano leg without a server: the import payload, the export parser, applying decisions.

(UTF-16 offsets are the adapter's: tests/test_annotate_offsets.py.)
"""

import json

import pytest

from cmner_build.annotate.adjudication.run import apply_adjudicator_lines, merge_and_settle
from cmner_build.annotate.adjudication.doccano import (
    adjudication_record,
    parse_reasons,
    read_adjudicator_export,
    write_payload,
)
from cmner_build.annotate.adjudication.store import load_posts
from cmner_build.errors import CmnerError, FormatError
from cmner_build.model import Span

from tests.agreement_helpers import add_batch, export_zip, exported_line

CODES = ("guideline_gap", "ambiguous", "annotator_slip")
EMOJI_TEXT = "😀今天去上海见了李华，𠮷野家的腾讯"  # an emoji and a CJK Extension B character before entities


def fill(store):
    add_batch(store, "batch-0001", "main", ["ann1", "ann2", "ann3"], {
        "e1": (EMOJI_TEXT, {"ann1": [(4, 6, "LOC"), (8, 10, "PER"), (15, 17, "ORG")],
                            "ann2": [(4, 6, "LOC"), (8, 10, "PER"), (11, 14, "ORG")],
                            "ann3": [(4, 6, "ORG"), (8, 10, "PER")]}),
        "t1": ("鸟巢今晚有比赛", {"ann1": [(0, 2, "LOC")], "ann2": [(0, 2, "ORG")], "ann3": []}),
        "ok": ("张三", {"ann1": [(0, 2, "PER")], "ann2": [(0, 2, "PER")], "ann3": [(0, 2, "PER")]}),
    })
    merge_and_settle(store, 2)


def test_payload_prefills_the_majority_and_lists_conflicts_and_anonymous_versions(workspace, tmp_path):
    fill(workspace.store)
    posts = {p.merged.post_id: p for p in load_posts(workspace.store)}
    record = adjudication_record(posts["e1"], CODES)
    # majority 上海 LOC and 李华 PER; conflicts 𠮷野家 ORG (B only) and 腾讯 ORG (A only) suggest nothing
    assert record["label"] == [[5, 7, "LOC"], [9, 11, "PER"]]
    assert record["post_id"] == "e1" and record["source_batch"] == "batch-0001"
    assert record["conflict_1"] == "presence: 𠮷野家/ORG [11,14) ← B | nothing ← A C"
    assert record["conflict_2"] == "presence: 腾讯/ORG [15,17) ← A | nothing ← B C"
    assert record["version_C"] == "上海/ORG [4,6), 李华/PER [8,10)"
    assert "ann1" not in json.dumps(record, ensure_ascii=False)
    assert "reason: <code>" in record["how_to"] and "annotator_slip" in record["how_to"]
    assert record["round"] == "adjudication"  # so that `annotate pull` refuses its export
    path = tmp_path / "adjudication.jsonl"
    assert write_payload(posts.values(), path, CODES) == 2  # e1 and t1; ok is settled
    path.read_bytes().decode("ascii")  # ASCII-escaped, as Doccano's encoding detection needs
    assert [json.loads(line)["post_id"] for line in path.read_text().splitlines()] == ["e1", "t1"]


def test_reason_codes_in_comments():
    assert parse_reasons(["reason: Guideline_Gap see precedent 12"]) == (("guideline_gap", "see precedent 12"), {})
    assert parse_reasons(["looks fine", "Reason 2： ambiguous", "reason #1 = annotator_slip"]) == (
        None, {2: ("ambiguous", ""), 1: ("annotator_slip", "")})
    assert parse_reasons([{"text": "reason: other\nreason 3: ambiguous x"}]) == (("other", ""), {3: ("ambiguous", "x")})
    assert parse_reasons(["the reason is unclear"]) == (None, {})
    # Doccano exports comments sorted, so "the last one" is unknowable: two codes for one thing are refused
    with pytest.raises(ValueError, match=r"two reason codes for conflict 2 \(ambiguous, other\)"):
        parse_reasons(["reason 2: ambiguous", "reason 2: other"])
    with pytest.raises(ValueError, match="for the post"):
        parse_reasons(["reason: ambiguous\nreason: other"])
    assert parse_reasons(["reason: ambiguous a", "reason: Ambiguous b"]) == (("ambiguous", "a; b"), {})


def test_reading_the_export_zip(tmp_path):
    line = {"id": 1, "text": EMOJI_TEXT, "post_id": "e1", "label": [[5, 7, "LOC"]], "Comments": ["reason: ambiguous"]}
    export_zip(tmp_path / "one.zip", {"judge": [line], "admin": []})
    [parsed] = read_adjudicator_export(tmp_path / "one.zip", None)
    assert (parsed.post_id, parsed.spans, parsed.general_reason) == ("e1", [Span(4, 6, "LOC")], ("ambiguous", ""))
    export_zip(tmp_path / "two.zip", {"judge": [line], "judge2": []})
    with pytest.raises(CmnerError, match="--adjudicator"):
        read_adjudicator_export(tmp_path / "two.zip", None)
    assert read_adjudicator_export(tmp_path / "two.zip", "judge2") == []
    with pytest.raises(CmnerError, match="no nobody.jsonl inside"):
        read_adjudicator_export(tmp_path / "two.zip", "nobody")
    (tmp_path / "judge.jsonl").write_text(json.dumps(line) + "\n{\"text\": \"x\"}\n")
    with pytest.raises(FormatError) as error:
        read_adjudicator_export(tmp_path / "judge.jsonl", None)
    assert error.value.line == 2 and "post_id" in str(error.value)
    entities = {**line, "entities": [{"id": 3, "label": "PER", "start_offset": 9, "end_offset": 11}]}
    del entities["label"]
    (tmp_path / "relations.jsonl").write_text(json.dumps(entities) + "\n")
    assert read_adjudicator_export(tmp_path / "relations.jsonl", None)[0].spans == [Span(8, 10, "PER")]


def test_applying_decisions(workspace, tmp_path):
    store = workspace.store
    fill(store)
    records = {p.merged.post_id: adjudication_record(p, CODES) for p in load_posts(store, state="open")}
    lines = [
        # e1: keep 𠮷野家 (conflict 1) with its own reason, drop 腾讯 (conflict 2) with the general one
        exported_line(records["e1"], 1, records["e1"]["label"] + [[12, 16, "ORG"]],
                      ["reason 1: annotator_slip", "reason: guideline_gap brand names"]),
        exported_line(records["t1"], 2, [[0, 2, "LOC"]], []),  # no reason yet: stays open
        exported_line({"text": "无关", "label": [], "post_id": "zz"}, 3),
    ]
    export_zip(tmp_path / "export.zip", {"judge": lines, "admin": []})
    report = apply_adjudicator_lines(store, read_adjudicator_export(tmp_path / "export.zip", None), CODES)
    assert report.settled == {"e1": "gold"}
    assert report.undecided == ["t1"] and report.unknown_posts == ["zz"]
    assert store.gold_spans(["e1"]) == {"e1": [Span(4, 6, "LOC"), Span(8, 10, "PER"), Span(11, 14, "ORG")]}
    rows = store.query("SELECT number, decision, reason, note, decided_via FROM adjudication_clusters "
                       "WHERE post_id = 'e1' ORDER BY number")
    assert [(r["number"], json.loads(r["decision"]), r["reason"], r["note"], r["decided_via"]) for r in rows] == [
        (1, [[11, 14, "ORG"]], "annotator_slip", None, "doccano"),
        (2, [], "guideline_gap", "brand names", "doccano"),
    ]
    # t1 now decided, with a code outside the list (kept, reported), and the majority of e1 is settled already
    later = [exported_line(records["t1"], 2, [], ["reason: venue_rule"]), lines[0]]
    export_zip(tmp_path / "later.zip", {"judge": later})
    report = apply_adjudicator_lines(store, read_adjudicator_export(tmp_path / "later.zip", None), CODES)
    assert report.settled == {"t1": "dropped"} and report.already_settled == ["e1"]
    assert report.unknown_reasons == ["venue_rule"]
    assert store.scalar("SELECT drop_reason FROM posts WHERE post_id = 't1'") == "no_entities"


def test_two_codes_for_one_conflict_leave_the_post_open(workspace, tmp_path):
    store = workspace.store
    fill(store)
    record = adjudication_record(load_posts(store, post_ids=["t1"])[0], CODES)
    export_zip(tmp_path / "clash.zip", {"judge": [exported_line(record, 1, [], ["reason: ambiguous", "reason: other"])]})
    report = apply_adjudicator_lines(store, read_adjudicator_export(tmp_path / "clash.zip", None), CODES)
    assert report.settled == {} and report.undecided == []
    assert report.problems == [f"{tmp_path / 'clash.zip'}!judge.jsonl:1: post t1: the comments give two reason codes "
                               "for the post (ambiguous, other); delete one"]
    assert load_posts(store, post_ids=["t1"])[0].state == "open"


def test_uploading_as_the_adjudicator_needs_their_password(tmp_path, monkeypatch):
    from cmner_build.annotate.adjudication.server import DoccanoAdjudicationServer
    from cmner_build.annotate.doccano.api import DoccanoAPI

    monkeypatch.delenv("CMNER_TEST_ADJUDICATOR_PASSWORD", raising=False)
    server = DoccanoAdjudicationServer(DoccanoAPI("http://127.0.0.1:9", username="admin"), tmp_path / "none.tsv",
                                       "CMNER_TEST_ADJUDICATOR_PASSWORD")
    with pytest.raises(CmnerError, match=r"no password for the adjudicator 'judge'.*CMNER_TEST_ADJUDICATOR_PASSWORD"):
        server._login("judge")
    server.close()


def test_bad_lines_leave_the_post_open(workspace, tmp_path):
    store = workspace.store
    fill(store)
    record = adjudication_record(load_posts(store, post_ids=["e1"])[0], CODES)
    overlapping = exported_line(record, 1, [[5, 7, "LOC"], [6, 8, "ORG"]], ["reason: ambiguous"])
    changed = exported_line({**record, "text": EMOJI_TEXT + "!"}, 1, [], ["reason: ambiguous"])
    removed = exported_line(record, 1, [[9, 11, "PER"]], ["reason: ambiguous"])  # drops the majority's 上海
    export_zip(tmp_path / "bad.zip", {"judge": [overlapping, changed]})
    report = apply_adjudicator_lines(store, read_adjudicator_export(tmp_path / "bad.zip", None), CODES)
    assert report.settled == {}
    assert "overlaps" in report.problems[0] and "text differs" in report.problems[1]
    assert load_posts(store, post_ids=["e1"])[0].state == "open"
    export_zip(tmp_path / "override.zip", {"judge": [removed]})
    report = apply_adjudicator_lines(store, read_adjudicator_export(tmp_path / "override.zip", None), CODES)
    assert report.settled == {"e1": "gold"} and report.majority_overridden == ["e1"]
    assert store.gold_spans(["e1"]) == {"e1": [Span(8, 10, "PER")]}
