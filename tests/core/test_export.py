import json
import random
from collections import Counter

import pytest

from cmner_build.errors import CmnerError
from cmner_build.export import export_corpus, leak_groups, load_gold_posts
from cmner_build.formats import read_tagged_file
from cmner_build.importer import import_release
from cmner_build.near_duplicates import near_duplicate_pairs
from cmner_build.privacy import ALLOWED_KEY

from tests.helpers import mask_gold_private_data

from tests.helpers import AT_070, AT_071, AT_075, HUREN_A, HUREN_B

TOPICS = ["体育", "旅游", "科技"]


def small_release(tmp_path, n=30):
    blocks = []
    for i in range(n):
        topic = TOPICS[i % 3]
        text = f"第{i}条：张{i}在北京看比赛#{topic}#"
        tags = ["O"] * len(text)
        start = text.index("张")
        tags[start] = "B-PER"
        for k in range(start + 1, start + 1 + len(str(i))):
            tags[k] = "I-PER"
        city = text.index("北京")
        tags[city], tags[city + 1] = "B-LOC", "I-LOC"
        blocks.append("\n".join([f"WID:P{i:03d}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]))
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_jsonl_and_parquet_load_with_hugging_face_datasets(workspace, tmp_path):
    datasets = pytest.importorskip("datasets")
    import_release(workspace.store, [small_release(tmp_path)], "cmner", topics=TOPICS)
    workspace.store.execute("INSERT INTO images (post_id, position, file_name, status) VALUES ('P000', 0, 'P000_a.jpg', 'kept')")
    (workspace.images_dir / "P000_a.jpg").write_bytes(b"img")
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        report = export_corpus(workspace.store, out, fmt=fmt, images_dir=workspace.images_dir, parquet_images="paths")
        assert report.posts_by_split == {"train": 18, "dev": 6, "test": 6}
        files = {split: str(out / f"{split}.{fmt}") for split in ("train", "dev", "test")}
        loaded = datasets.load_dataset("json" if fmt == "jsonl" else "parquet", data_files=files)
        assert {split: len(loaded[split]) for split in files} == {"train": 18, "dev": 6, "test": 6}
        record = next(r for split in files for r in loaded[split] if r["id"] == "P000")
        labels = json.loads((out / "labels.json").read_text())
        names = labels if fmt == "jsonl" else loaded["train"].features["ner_tags"].feature.names
        assert names == labels
        tags = [names[i] for i in record["ner_tags"]]
        assert "".join(record["tokens"]) == "第0条：张0在北京看比赛#体育#"
        assert tags[4:6] == ["B-PER", "I-PER"] and tags[7:9] == ["B-LOC", "I-LOC"]
        assert record["images"] == ["images/P000_a.jpg"]
        assert (out / "images" / "P000_a.jpg").read_bytes() == b"img"


def test_reruns_are_byte_identical_and_only_resplit_changes_the_splits(workspace, tmp_path):
    import_release(workspace.store, [small_release(tmp_path)], "cmner", topics=TOPICS)
    outputs = []
    for run, seed, resplit in ((1, 5, False), (2, 5, False), (3, 6, False), (4, 6, True), (5, 5, False)):
        out = tmp_path / f"run{run}"
        report = export_corpus(workspace.store, out, fmt="cmner", seed=seed, resplit=resplit)
        outputs.append({p.name: p.read_bytes() for p in out.glob("*.txt")})
        if run == 1:
            assert (report.posts_newly_assigned, report.posts_kept_split, report.posts_moved) == (30, 0, 0)
        if run == 3:
            assert (report.posts_newly_assigned, report.posts_kept_split, report.posts_moved) == (0, 30, 0)
        if run == 4:
            assert report.posts_moved > 0 and report.posts_moved + report.posts_kept_split == 30
    assert outputs[0] == outputs[1] == outputs[2]  # another seed alone does not re-split
    assert outputs[3] != outputs[0]
    assert outputs[4] == outputs[3]  # the re-split is kept by later plain exports
    split_rows = dict(workspace.store.query("SELECT post_id, split FROM posts"))
    written = {d.doc_id: "train" for d in read_tagged_file(tmp_path / "run5" / "train.txt", "cmner").documents}
    assert all(split_rows[post_id] == "train" for post_id in written)


def test_near_duplicates_share_a_split(workspace, tmp_path):
    text = "北京时间12月15日凌晨，德甲联赛第16轮打响，拜仁客场挑战斯图加特，双方战成平局。"
    blocks = [f"WID:D{i}\n" + "\n".join(f"{c}\tO" for c in text + "!" * i) for i in range(4)]
    blocks += [f"WID:U{i}\n" + "\n".join(f"{c}\tO" for c in f"完全不同的第{i}条微博内容，编号{i * 7919}") for i in range(20)]
    path = tmp_path / "dups.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")
    workspace.store.execute("UPDATE posts SET dup_group = 'g1' WHERE post_id IN ('U0', 'U1')")
    for seed in range(5):
        export_corpus(workspace.store, tmp_path / "out", seed=seed)
        splits = dict(workspace.store.query("SELECT post_id, split FROM posts"))
        assert len({splits[f"D{i}"] for i in range(4)}) == 1
        assert splits["U0"] == splits["U1"]


def test_export_refuses_what_it_cannot_write(workspace, tmp_path, shared_data):
    with pytest.raises(CmnerError, match="no gold posts"):
        export_corpus(workspace.store, tmp_path / "out")
    import_release(workspace.store, [shared_data / "twitter2015" / "valid.txt"], "twitter2015")
    with pytest.raises(CmnerError, match="use --format twitter2015"):
        export_corpus(workspace.store, tmp_path / "out", fmt="cmner")
    with pytest.raises(CmnerError, match="three parts"):
        export_corpus(workspace.store, tmp_path / "out", fmt="twitter2015", ratio="3:1")
    report = export_corpus(workspace.store, tmp_path / "tw", fmt="twitter2015")
    assert report.posts_by_split == {"train": 0, "dev": 1000, "test": 0}
    assert (tmp_path / "tw" / "dev.txt").read_text(encoding="utf-8").startswith("IMGID:")


def test_a_plain_export_reproduces_the_release_exactly_but_its_private_data(release_workspace, tmp_path, shared_data):
    sources = {name: shared_data / "cmner" / f"{name}.txt" for name in ("train", "dev")}
    assert mask_gold_private_data(release_workspace.store) == {"phone": 1}  # dev post Lcd7WqN4e
    report = export_corpus(release_workspace.store, tmp_path / "out", fmt="cmner", ratio="3:1:1",
                           images_dir=release_workspace.images_dir)
    assert report.posts_by_split == {"train": 3000, "dev": 1000, "test": 0}
    assert (report.posts_kept_split, report.posts_newly_assigned, report.posts_moved) == (4000, 0, 0)
    # The release puts identical texts in train and dev: kept as released, and reported.
    assert report.groups_spread_over_splits
    assert Counter(split for (split,) in release_workspace.store.execute("SELECT split FROM posts")) == {
        "train": 3000, "dev": 1000}
    assert report.images_copied == 25
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == sorted(
        p.name for p in (shared_data / "cmner" / "images").iterdir())
    for name, source in sources.items():
        original = [(d.doc_id, d.tokens, d.tags) for d in read_tagged_file(source, "cmner").documents]
        exported = [(d.doc_id, d.tokens, d.tags) for d in read_tagged_file(tmp_path / "out" / f"{name}.txt", "cmner").documents]
        differing = [(a, b) for a, b in zip(original, exported) if a != b]
        assert len(exported) == len(original) and len(differing) == (1 if name == "dev" else 0)
        for (doc_id, tokens, tags), (exported_id, exported_tokens, exported_tags) in differing:
            assert (exported_id, exported_tags) == (doc_id, tags) and doc_id == "Lcd7WqN4e"
            changed = "".join(a for a, b in zip(tokens, exported_tokens) if a != b)
            assert changed == "18076315634" and "".join(exported_tokens).endswith("预约电话：***********")
    assert (tmp_path / "out" / "test.txt").read_bytes() == b""


def test_resplit_of_the_release_has_no_leak_and_says_how_many_posts_move(release_workspace, tmp_path):
    mask_gold_private_data(release_workspace.store)
    before = dict(release_workspace.store.query("SELECT post_id, split FROM posts"))
    report = export_corpus(release_workspace.store, tmp_path / "out", fmt="cmner", ratio="3:1:1", seed=42, resplit=True)
    after = dict(release_workspace.store.query("SELECT post_id, split FROM posts"))
    assert report.posts_moved == sum(1 for post_id in before if before[post_id] != after[post_id]) > 1000
    assert report.posts_kept_split == 4000 - report.posts_moved
    assert report.groups_spread_over_splits == []
    assert sum(report.posts_by_split.values()) == 4000
    assert abs(report.posts_by_split["train"] - 2400) <= 10
    posts = load_gold_posts(release_workspace.store)
    split_of = {p.post_id: p.split for p in posts}
    pairs = near_duplicate_pairs({p.post_id: p.text for p in posts}, 0.7)
    assert pairs, "the release has near-duplicates to keep together"
    assert all(split_of[a] == split_of[b] for a, b, _ in pairs)
    assert max(len(g) for g in leak_groups(posts, 0.7)) >= 2


def test_pairs_at_and_just_above_the_threshold_are_exported_into_one_split(workspace, tmp_path):
    pairs = {"h": (HUREN_A, HUREN_B), "p70": AT_070, "p71": AT_071, "p75": AT_075}
    blocks = [f"WID:{name}{side}\n" + "\n".join(f"{c}\tO" for c in text)
              for name, texts in pairs.items() for side, text in zip("ab", texts)]
    rng = random.Random(0)
    fillers = ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(20)) for _ in range(30)]
    blocks += [f"WID:U{i:02d}\n" + "\n".join(f"{c}\tO" for c in text) for i, text in enumerate(fillers)]
    path = tmp_path / "pairs.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    import_release(workspace.store, [path], "cmner")
    for seed in range(6):
        report = export_corpus(workspace.store, tmp_path / "out", seed=seed, resplit=True)
        assert report.groups_kept_together == 4
        written = {d.doc_id: split for split in ("train", "dev", "test")
                   for d in read_tagged_file(tmp_path / "out" / f"{split}.txt", "cmner").documents}
        for name in pairs:
            assert written[f"{name}a"] == written[f"{name}b"], (seed, name)


def release_with_private_data(tmp_path):
    """Three posts: a phone number outside any entity, a QQ number in full-width digits, and a clean one."""
    posts = {
        "PRIV1": ("张三在北京，电话13812345678#体育#", {0: "B-PER", 1: "I-PER", 3: "B-LOC", 4: "I-LOC"}),
        "PRIV2": ("李四说ＱＱ：１２３４５６７８９#旅游#", {0: "B-PER", 1: "I-PER"}),
        "CLEAN": ("王五在上海看比赛#科技#", {0: "B-PER", 1: "I-PER", 3: "B-LOC", 4: "I-LOC"}),
    }
    blocks = []
    for post_id, (text, tags) in posts.items():
        blocks.append("\n".join([f"WID:{post_id}"] + [f"{c}\t{tags.get(i, 'O')}" for i, c in enumerate(text)]))
    path = tmp_path / "private.txt"
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_export_refuses_gold_posts_with_private_data_names_them_and_writes_nothing(workspace, tmp_path):
    import_release(workspace.store, [release_with_private_data(tmp_path)], "cmner")
    with pytest.raises(CmnerError) as caught:
        export_corpus(workspace.store, tmp_path / "out", fmt="cmner", ratio="1:1:1")
    message = str(caught.value)
    assert "2 gold posts still hold private data: PRIV1 (phone), PRIV2 (qq)" in message
    assert "clean --gold" in message and "CLEAN" not in message
    assert not (tmp_path / "out").exists()
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts WHERE split IS NOT NULL") == 0
    # A kind switched off in clean.redact is not checked; a value a person declared public is exported.
    export_corpus(workspace.store, tmp_path / "qq-only", fmt="jsonl", ratio="1:1:1", private_kinds=("email",))
    workspace.store.execute("UPDATE posts SET meta = ? WHERE post_id = 'PRIV1'", (json.dumps({ALLOWED_KEY: ["13812345678"]}),))
    with pytest.raises(CmnerError, match=r"1 gold posts still hold private data: PRIV2 \(qq\)"):
        export_corpus(workspace.store, tmp_path / "out", fmt="cmner", ratio="1:1:1")


def test_parquet_carries_the_images_as_an_image_feature(workspace, tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    import_release(workspace.store, [small_release(tmp_path)], "cmner", topics=TOPICS)
    for position, (name, colour) in enumerate((("P000_a.png", (255, 0, 0)), ("P000_b.png", (0, 0, 255)))):
        Image.new("RGB", (4 + position, 3), colour).save(workspace.images_dir / name)
        workspace.store.execute("INSERT INTO images (post_id, position, file_name, status) VALUES ('P000', ?, ?, 'kept')",
                                (position, name))
    workspace.store.execute("INSERT INTO images (post_id, position, file_name, status) VALUES ('P001', 0, 'P001_x.png', 'kept')")
    out = tmp_path / "parquet"
    report = export_corpus(workspace.store, out, fmt="parquet", images_dir=workspace.images_dir)
    assert report.missing_images == ["P001_x.png"]
    loaded = datasets.load_dataset("parquet", data_files={s: str(out / f"{s}.parquet") for s in ("train", "dev", "test")})
    split = next(name for name in loaded if "P000" in loaded[name]["id"])
    features = loaded[split].features
    assert isinstance(features["images"].feature, datasets.Image)
    assert features["ner_tags"].feature.names[:3] == ["O", "B-PER", "I-PER"]
    record = loaded[split][loaded[split]["id"].index("P000")]
    assert [image.size for image in record["images"]] == [(4, 3), (5, 3)]
    assert [image.getpixel((0, 0)) for image in record["images"]] == [(255, 0, 0), (0, 0, 255)]
    other = next(r for name in loaded for r in loaded[name] if r["id"] == "P001")
    assert other["images"] == []  # the missing file is reported, not invented


def test_an_unknown_parquet_image_mode_is_refused_before_anything_is_written(workspace, tmp_path):
    import_release(workspace.store, [small_release(tmp_path)], "cmner", topics=TOPICS)
    with pytest.raises(CmnerError, match="Parquet image mode"):
        export_corpus(workspace.store, tmp_path / "out", fmt="parquet", parquet_images="inline")
    assert not (tmp_path / "out").exists()
