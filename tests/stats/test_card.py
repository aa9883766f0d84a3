"""The dataset card: a Hugging Face YAML header and sections read from the store ("not run" otherwise)."""

from __future__ import annotations

import json

import pytest

from cmner_build.importer import import_release
from cmner_build.store import utc_now

from tests.helpers import run_cli

TOPICS = ["体育", "旅游", "科技"]


def release(tmp_path, n=40):
    blocks = []
    for i in range(n):
        text = f"第{i}场：曼联在北京迎战利物浦<b>|#{TOPICS[i % 3]}#"
        tags = ["O"] * len(text)
        for surface, label in (("曼联", "ORG"), ("北京", "LOC"), ("利物浦", "ORG")):
            start = text.index(surface)
            tags[start] = f"B-{label}"
            for k in range(start + 1, start + len(surface)):
                tags[k] = f"I-{label}"
        if i == 7:  # a planted type flip for the gold audit
            tags[text.index("曼联")], tags[text.index("曼联") + 1] = "B-PER", "I-PER"
        blocks.append("\n".join([f"WID:P{i:03d}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]))
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def header_and_body(card: str):
    import yaml

    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_card_with_parquet_loads_as_a_multimodal_dataset_and_says_what_was_not_run(workspace, tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    import_release(workspace.store, [release(tmp_path)], "cmner", topics=TOPICS)
    Image.new("RGB", (6, 4), (10, 200, 30)).save(workspace.images_dir / "P000_1.png")
    workspace.store.execute("INSERT INTO images (post_id, position, file_name, status) VALUES ('P000', 0, 'P000_1.png', 'kept')")
    report = {"posts": 20, "annotators": ["a", "b", "c"], "strict_f1": {"value": 0.912, "ci": [0.881, 0.94]},
              "overlap_f1": {"value": 0.95, "ci": [0.93, 0.97]}, "bootstrap": {"confidence": 0.95}}
    workspace.store.execute(
        "INSERT INTO agreement_runs (created_at, round, batch_id, strict_f1, passed, report) VALUES (?, 'pilot', NULL, 0.912, 1, ?)",
        (utc_now(), json.dumps(report)))
    assert run_cli("-w", workspace.root, "audit", "labels", "--signals", "consistency", "--json").exit_code == 0
    out = tmp_path / "release"
    result = run_cli("-w", workspace.root, "export", "--format", "parquet", "--out", out)
    assert result.exit_code == 0, result.output
    meta, body = header_and_body((out / "README.md").read_text(encoding="utf-8"))
    assert meta["language"] == ["zh"] and meta["task_categories"] == ["token-classification"]
    assert meta["size_categories"] == ["n<1K"] and meta["license"] == "other"
    names = next(f for f in meta["dataset_info"]["features"] if f["name"] == "ner_tags")["sequence"]["class_label"]["names"]
    names = [names[str(i)] for i in range(len(names))]
    assert names[1] == "B-PER" and len(names) == 9
    # Table 1, the agreement with its interval, the leak audit and the gold audit, from the store
    table_one = [line for line in body.splitlines() if line.startswith("| train |")][0]
    cells = [cell.strip().replace(",", "") for cell in table_one.split("|")[2:-1]]
    stored = workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE split = 'train'")
    image_in_train = workspace.store.scalar("SELECT split FROM posts WHERE post_id = 'P000'") == "train"
    assert cells[:2] == [str(stored), str(int(image_in_train))] and cells[3] == str(stored)  # LOC: one per post
    assert sum(int(cell) for cell in cells[2:6]) == int(cells[6])
    assert "Pilot agreement" in body and "0.912 [0.881, 0.940]" in body and "pilot gate passed" in body
    assert "Full agreement: not run." in body and "Text cleaning: not run." in body
    assert "Adjudication: not run" in body and "Identical texts in different splits: 0 groups" in body
    assert "consistency: 1 issues" in body and "「曼联」PER → 「曼联」ORG" in body
    assert "<b>" not in body  # post text in the card is escaped
    loaded = datasets.load_dataset(str(out))  # the card's configs point at the Parquet files
    assert sorted(loaded) == sorted(split for split in ("train", "dev", "test")
                                    if workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE split = ?", (split,)))
    assert isinstance(loaded["train"].features["images"].feature, datasets.Image)
    assert loaded["train"].features["ner_tags"].feature.names == names
    record = next(r for split in loaded.values() for r in split if r["id"] == "P000")
    assert record["images"][0].size == (6, 4)


def test_card_on_demand_for_a_text_format_and_no_card_by_default(workspace, tmp_path):
    import_release(workspace.store, [release(tmp_path, 10)], "cmner", topics=TOPICS)
    assert run_cli("-w", workspace.root, "export", "--out", tmp_path / "plain").exit_code == 0
    assert not (tmp_path / "plain" / "README.md").exists()
    assert run_cli("-w", workspace.root, "export", "--card", "--out", tmp_path / "carded").exit_code == 0
    meta, body = header_and_body((tmp_path / "carded" / "README.md").read_text(encoding="utf-8"))
    assert "dataset_info" not in meta and "configs" not in meta
    assert "Gold audit: not run" in body and "Pilot agreement: not run." in body
