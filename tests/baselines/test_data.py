"""Reading an export (CMNER or Twitter-2015 layout) into posts with their images."""

from __future__ import annotations

import pytest

from cmner_build.baselines.data import load_export
from cmner_build.errors import CmnerError

from tests.baselines_helpers import make_posts, write_export


def test_cmner_export_with_crlf_no_final_newline_and_images(tmp_path):
    train, dev = make_posts(5, 1), make_posts(2, 2)
    folder = write_export(tmp_path / "exp", {"train": train, "dev": dev}, crlf_no_final_newline=True,
                          images_per_post={train[0][0]: 3, dev[1][0]: 1})
    (folder / "images" / "notes.txt").write_text("not an image")
    data = load_export(folder)
    assert data.fmt == "cmner" and not data.has_test
    assert [p.post_id for p in data.splits["train"]] == [p[0] for p in train]
    assert data.splits["train"][0].tokens == train[0][1] and data.splits["train"][0].tags == train[0][2]
    assert data.splits["train"][0].image_files == [f"{train[0][0]}_{n}.jpg" for n in range(3)]
    assert data.splits["train"][1].image_files == []
    assert data.splits["dev"][1].image_files == [f"{dev[1][0]}_0.jpg"]


def test_twitter2015_layout_valid_split_other_type_and_id_named_images(tmp_path):
    folder = tmp_path / "tw"
    folder.mkdir()
    (folder / "train.txt").write_text("IMGID:101\nObama\tB-PER\nin\tO\nParis\tB-OTHER\n\nIMGID:102\nhi\tO\n")
    (folder / "valid.txt").write_text("IMGID:201\nNYC\tB-LOC\n")
    (folder / "images").mkdir()
    (folder / "images" / "101.jpg").write_bytes(b"x")
    data = load_export(folder)
    assert data.fmt == "twitter2015"
    assert data.splits["train"][0].tags == ["B-PER", "O", "B-MISC"]
    assert data.splits["train"][0].image_files == ["101.jpg"]
    assert data.splits["dev"][0].tokens == ["NYC"]


def test_missing_dev_split_and_missing_folder_are_clear_errors(tmp_path):
    folder = write_export(tmp_path / "exp", {"train": make_posts(2)})
    with pytest.raises(CmnerError, match="no dev split"):
        load_export(folder)
    with pytest.raises(CmnerError, match="not a folder"):
        load_export(tmp_path / "absent")


def test_reads_the_shared_cmner_release(shared_data):
    data = load_export(shared_data / "cmner")
    assert data.fmt == "cmner"
    assert (len(data.splits["train"]), len(data.splits["dev"])) == (3000, 1000)
    assert max(len(post.tokens) for post in data.posts()) == 250
    assert sum(1 for post in data.posts() if post.image_files) >= 1  # the example images match some posts
