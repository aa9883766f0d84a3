import shutil

import pytest

from cmner_build.errors import FormatError
from cmner_build.importer import import_release, index_images, infer_topic
from cmner_build.model import Span

TOPICS = ["体育", "旅游", "科技"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_import_stores_posts_spans_split_topic_and_images(workspace, tmp_path):
    release = tmp_path / "release"
    (release / "images").mkdir(parents=True)
    train = write(release / "train.txt", "WID:AAA\r\n张\tB-PER\r\n三\tI-PER\r\n#\tO\r\n体\tO\r\n育\tO\r\n#\tO\r\n")
    for name in ("AAA_x1.jpg", "AAA_x2.jpg", "BBB_x1.jpg", "notes.txt"):
        (release / "images" / name).write_bytes(b"jpeg bytes")
    report = import_release(workspace.store, [train], "cmner", topics=TOPICS, images_dir=release / "images",
                            workspace_images_dir=workspace.images_dir)
    assert (report.posts_added, report.entities, report.images_added) == (1, 1, 2)
    row = workspace.store.query("SELECT * FROM posts")[0]
    assert (row["post_id"], row["text"], row["split"], row["topic"], row["status"]) == ("AAA", "张三#体育#", "train", "体育", "gold")
    assert workspace.store.gold_spans() == {"AAA": [Span(0, 2, "PER")]}
    images = workspace.store.query("SELECT file_name, position, status FROM images ORDER BY position")
    assert [tuple(r) for r in images] == [("AAA_x1.jpg", 0, "downloaded"), ("AAA_x2.jpg", 1, "downloaded")]
    assert sorted(p.name for p in workspace.images_dir.iterdir()) == ["AAA_x1.jpg", "AAA_x2.jpg"]


def test_reimport_is_idempotent_and_a_conflict_changes_nothing(workspace, tmp_path):
    first = write(tmp_path / "dev.txt", "WID:A\n北\tB-LOC\n京\tI-LOC\n")
    import_release(workspace.store, [first], "cmner")
    again = import_release(workspace.store, [first], "cmner")
    assert (again.posts_added, again.posts_unchanged) == (0, 1)
    changed = write(tmp_path / "test.txt", "WID:B\n好\tO\n\nWID:A\n北\tB-ORG\n京\tI-ORG\n")
    with pytest.raises(FormatError, match=r"test.txt:4: post 'A' is already in the store"):
        import_release(workspace.store, [changed], "cmner")
    assert workspace.store.post_ids() == {"A"}
    assert workspace.store.gold_spans()["A"] == [Span(0, 2, "LOC")]


def test_a_file_that_gives_another_split_is_reported_and_taken_only_when_asked(workspace, tmp_path):
    import_release(workspace.store, [write(tmp_path / "train.txt", "WID:A\n北\tB-LOC\n京\tI-LOC\n\nWID:B\n好\tO\n")], "cmner")
    moved = write(tmp_path / "dev.txt", "WID:A\n北\tB-LOC\n京\tI-LOC\n\nWID:C\n是\tO\n")
    report = import_release(workspace.store, [moved], "cmner")
    assert report.split_differs == [("A", "train", "dev")] and report.splits_taken == 0
    assert (report.posts_added, report.posts_unchanged) == (1, 1)
    assert dict(workspace.store.query("SELECT post_id, split FROM posts")) == {"A": "train", "B": "train", "C": "dev"}
    report = import_release(workspace.store, [moved], "cmner", take_file_splits=True)
    assert report.split_differs == [("A", "train", "dev")] and report.splits_taken == 1
    assert dict(workspace.store.query("SELECT post_id, split FROM posts")) == {"A": "dev", "B": "train", "C": "dev"}
    # A file whose name gives no split says nothing about splits.
    plain = write(tmp_path / "posts.txt", "WID:A\n北\tB-LOC\n京\tI-LOC\n")
    assert import_release(workspace.store, [plain], "cmner", take_file_splits=True).split_differs == []
    assert workspace.store.scalar("SELECT split FROM posts WHERE post_id = 'A'") == "dev"


def test_a_bad_file_anywhere_means_nothing_is_imported(workspace, tmp_path):
    good = write(tmp_path / "train.txt", "WID:A\n好\tO\n")
    bad = write(tmp_path / "dev.txt", "WID:B\n好\tO\n坏 O\n")
    with pytest.raises(FormatError, match=r"dev.txt:3: expected <token><TAB><tag>"):
        import_release(workspace.store, [good, bad], "cmner")
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts") == 0
    duplicate = write(tmp_path / "test.txt", "WID:A\n好\tO\n")
    with pytest.raises(FormatError, match=r"test.txt:1: post id 'A' already appears at .*train.txt:1"):
        import_release(workspace.store, [good, duplicate], "cmner")
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts") == 0


def test_a_failed_import_removes_the_images_it_copied(workspace, tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "A_1.jpg").write_bytes(b"x")
    good = write(tmp_path / "train.txt", "WID:A\n好\tO\n")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workspace.store, "log_event", fail)
    with pytest.raises(RuntimeError):
        import_release(workspace.store, [good], "cmner", images_dir=tmp_path / "imgs",
                       workspace_images_dir=workspace.images_dir)
    assert list(workspace.images_dir.iterdir()) == []
    assert workspace.store.scalar("SELECT COUNT(*) FROM posts") == 0


def test_infer_topic_takes_the_last_category_hashtag():
    assert infer_topic("今天#旅游#去了#科技#馆看展", TOPICS) == "科技"
    assert infer_topic("没有话题", TOPICS) is None
    assert infer_topic("#体育新闻#", TOPICS) is None


def test_index_images_handles_both_release_namings(tmp_path):
    for name in ("L364I3366_60csjx1.jpg", "L364I3366_w0anq6z.JPG", "1015799.jpg", "readme.md"):
        (tmp_path / name).write_bytes(b"")
    index = index_images(tmp_path)
    assert {k: [p.name for p in v] for k, v in index.items()} == {
        "1015799": ["1015799.jpg"], "L364I3366": ["L364I3366_60csjx1.jpg", "L364I3366_w0anq6z.JPG"]
    }
    with pytest.raises(FormatError, match="image folder not found"):
        index_images(tmp_path / "nope")


def test_real_release_import(workspace, shared_data, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(shared_data / "cmner" / "images", images)
    report = import_release(
        workspace.store, [shared_data / "cmner" / "train.txt", shared_data / "cmner" / "dev.txt"], "cmner",
        topics=TOPICS, images_dir=images, workspace_images_dir=workspace.images_dir,
    )
    assert report.by_split == {"train": 3000, "dev": 1000}
    assert report.entities == 16373 + 5395
    assert report.warnings == []
    assert workspace.store.scalar("SELECT COUNT(*) FROM images") == 25
    assert workspace.store.scalar("SELECT COUNT(*) FROM images WHERE post_id = 'L364I3366'") == 9
    twitter = import_release(workspace.store, [shared_data / "twitter2015" / "valid.txt"], "twitter2015")
    assert twitter.by_split == {"dev": 1000}
    assert twitter.entities == 1594
