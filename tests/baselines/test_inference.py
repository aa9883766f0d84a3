"""A saved run, loaded back: the same tags and score as its own evaluation, spans in code points with
confidences from the CRF marginals, for ACN and UMT, text-only and with images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cmner_build.baselines.data import Post, load_export
from cmner_build.baselines.evaluate import score
from cmner_build.baselines.experiment import BaselineOptions, run_baseline
from cmner_build.baselines.inference import LABELS, load_run, predict_posts
from cmner_build.errors import CmnerError

from tests.baselines_helpers import make_posts, tiny_bert, tiny_resnet, write_export


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A workspace-like folder: runs/, features/ and an export with images for every other post."""
    from cmner_build.baselines.device import choose_device
    from cmner_build.baselines.features import cache_dir_for, extract_features

    root = tmp_path_factory.mktemp("inference")
    train, dev, test = make_posts(24, 11), make_posts(8, 12), make_posts(10, 13)
    images = {post[0]: 1 + i % 2 for i, post in enumerate(train + dev + test) if i % 2}
    export = write_export(root / "export", {"train": train, "dev": dev, "test": test}, images_per_post=images)
    resnet = str(tiny_resnet(root / "resnet"))
    files = {path.name: path for path in (export / "images").iterdir()}
    extract_features(files, cache_dir_for(root / "features", resnet), encoder=resnet, device=choose_device("cpu"))
    bert = str(tiny_bert(root / "bert", train + dev + test))
    common = dict(export_dir=export, device="cpu", seed=5, encoder=resnet)
    options = {
        "acn-none": BaselineOptions(model="acn", epochs=4, lr=0.02, batch_size=4, hidden=32, embedding_dim=16, **common),
        "acn-all": BaselineOptions(model="acn", images="all", epochs=2, lr=0.02, batch_size=4, hidden=16,
                                   embedding_dim=16, bigrams=True, **common),
        "umt-one": BaselineOptions(model="umt", images="one", epochs=1, lr=5e-3, batch_size=8, bert=bert, **common),
    }
    outcomes = {name: run_baseline(option, runs_dir=root / "runs", features_root=root / "features")
                for name, option in options.items()}
    return {"root": root, "export": export, "outcomes": outcomes}


def _recorded(run_dir, split):
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if row["split"] == split]


@pytest.mark.parametrize("name", ["acn-none", "acn-all", "umt-one"])
def test_predicting_the_test_split_reproduces_the_runs_own_tags_and_score(runs, name):
    outcome = runs["outcomes"][name]
    loaded = load_run(outcome.run_dir, device="cpu")
    test = load_export(runs["export"]).splits["test"]
    predictions = predict_posts(loaded, test)
    recorded = _recorded(outcome.run_dir, "test")
    assert [p.post_id for p in predictions] == [row["post_id"] for row in recorded]
    assert [p.tags for p in predictions] == [row["predicted"] for row in recorded]
    assert [p.images for p in predictions] == [row["images"] for row in recorded]
    assert score([post.tags for post in test], [p.tags for p in predictions]) == outcome.metrics["test"]
    if name == "acn-none":  # four epochs: a score that is neither 0 nor 100, so equality means something
        assert 0 < outcome.metrics["test"]["f1"] < 100


def test_marginals_spans_confidences_and_margin(runs):
    loaded = load_run(runs["outcomes"]["acn-none"].run_dir, device="cpu")
    posts = load_export(runs["export"]).splits["dev"]
    predictions = predict_posts(loaded, posts)
    assert any(p.spans for p in predictions)
    for post, prediction in zip(posts, predictions):
        marginals = prediction.marginals
        assert marginals.shape == (len(post.tokens), len(LABELS)) and marginals.dtype == np.float32
        assert np.allclose(marginals.sum(1), 1.0, atol=1e-4)
        top_two = np.sort(marginals, axis=1)[:, -2:]
        assert prediction.margin == pytest.approx(float((top_two[:, 1] - top_two[:, 0]).mean()))
        assert prediction.text == "".join(post.tokens)
        for span in prediction.spans:
            ids = [LABELS.index(tag) for tag in prediction.tags[span.start : span.end]]
            assert span.confidence == pytest.approx(min(marginals[t, i] for t, i in zip(range(span.start, span.end), ids)))
            assert prediction.tags[span.start] == f"B-{span.label}" and span.text == prediction.text[span.start:span.end]
            assert 0.0 < span.confidence <= 1.0


def test_spans_are_code_points_of_the_given_text_astral_characters_and_spaces_included(runs):
    loaded = load_run(runs["outcomes"]["acn-none"].run_dir, device="cpu")
    text = "😀𠀀张三今天在北京参加了华为的活动"
    post = Post("astral", list(text), [], [])
    post.text = text  # type: ignore[attr-defined]
    words = Post("words", ["Tom", "visited", "NYC"], [], [])
    words.text = "Tom  visited NYC"  # type: ignore[attr-defined]
    empty = Post("empty", [], [], [])
    astral, spaced, nothing = predict_posts(loaded, [post, words, empty])
    assert astral.text == text and len(astral.tags) == len(text)
    for span in astral.spans:
        assert span.text == text[span.start : span.end] and span.end - span.start == len(span.text)
    assert spaced.text == "Tom  visited NYC"
    assert all(span.text in ("Tom", "visited", "NYC", "Tom  visited", "visited NYC", "Tom  visited NYC")
               for span in spaced.spans)
    assert (nothing.tags, nothing.spans, nothing.margin) == ([], [], 1.0)


def test_a_folder_that_is_not_a_finished_run_is_a_clear_error(tmp_path, runs):
    with pytest.raises(CmnerError, match="not a finished run"):
        load_run(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    source = runs["outcomes"]["acn-none"].run_dir
    for name in ("config.json", "metrics.json", "model.safetensors"):
        (broken / name).write_bytes((source / name).read_bytes())
    (broken / "vocab.json").write_text(json.dumps({"tokens": ["[PAD]", "[UNK]", "a"], "chars": ["[PAD]", "[UNK]"],
                                                   "bigrams": None}))
    with pytest.raises(CmnerError, match="vocabulary has 3 tokens"):
        load_run(broken)
    (broken / "vocab.json").write_bytes((source / "vocab.json").read_bytes())
    config = json.loads((source / "config.json").read_text())
    config["model_config"]["hidden"] = 8
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(CmnerError, match="does not fit the model"):
        load_run(broken)
