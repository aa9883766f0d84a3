"""End to end through the CLI: features, every mode of both baselines, the report and the error report,
an export without a test split, features of a workspace's kept images, and the demo."""

from __future__ import annotations

import json

import pytest

from cmner_build.workspace import init_workspace

from tests.baselines_helpers import make_posts, tiny_bert, tiny_resnet, write_export
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline-cli")
    workspace, _ = init_workspace(root / "ws")
    workspace.close()
    train, dev, test = make_posts(16, 1), make_posts(6, 2), make_posts(6, 3)
    # Most posts have 1-3 images; every third has none (zero grid, masked).
    images = {post[0]: (i % 3) for i, post in enumerate(train + dev + test) if i % 3}
    export = write_export(root / "export", {"train": train, "dev": dev, "test": test}, images_per_post=images)
    resnet = str(tiny_resnet(root / "resnet"))
    bert = str(tiny_bert(root / "bert", train + dev + test))
    result = run_cli("-w", workspace.root, "features", "--export", export, "--encoder", resnet, "--device", "cpu",
                     "--batch-size", "4", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["extracted"] == report["images"] == sum(images.values()) and report["feature_dim"] == 16
    again = json.loads(run_cli("-w", workspace.root, "features", "--export", export, "--encoder", resnet,
                               "--json").stdout)
    assert (again["extracted"], again["already_cached"]) == (0, report["images"])
    return {"ws": workspace.root, "export": export, "resnet": resnet, "bert": bert, "root": root, "runs": {}}


COMMON = ("--epochs", "1", "--device", "cpu", "--seed", "5", "--json")


def _train(setup, model, images, *extra):
    args = ["-w", setup["ws"], "baseline", model, "--images", images, "--export", setup["export"],
            "--encoder", setup["resnet"], *COMMON, *extra]
    if model == "umt":
        args += ["--bert", setup["bert"], "--batch-size", "8"]
    else:
        args += ["--hidden", "16", "--embedding-dim", "16"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.error or result.output
    return json.loads(result.stdout), result


@pytest.mark.parametrize("model", ["acn", "umt"])
@pytest.mark.parametrize("images", ["none", "one", "all"])
def test_every_mode_trains_evaluates_and_writes_its_run(setup, model, images):
    extra = ("--bigrams",) if (model, images) == ("acn", "all") else ()
    summary, result = _train(setup, model, images, *extra)
    run_dir = setup["ws"] / "runs" / summary["run_id"]
    setup["runs"][(model, images)] = summary["run_id"]
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "metrics.json", "training.json",
                                                   "predictions.jsonl", "model.safetensors"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"dev", "test"}
    assert set(metrics["test"]) == {"precision", "recall", "f1", "per_type"}
    assert set(metrics["test"]["per_type"]) == {"PER", "LOC", "ORG", "MISC"}
    assert all(0.0 <= metrics[s]["f1"] <= 100.0 for s in ("dev", "test"))
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["images"], config["seed"]) == (model, images, 5)
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["split"] for row in rows].count("test") == 6 and [row["split"] for row in rows].count("dev") == 6
    assert all(len(row["predicted"]) == len(row["tokens"]) for row in rows)
    if images == "none":
        assert all(row["images"] == [] for row in rows) and summary["posts_without_image"] == 0
    else:
        assert summary["posts_without_image"] == 10  # posts 0, 3, ..., 27 of the 28, logged
        assert "no image" in result.stderr
        with_images = [row for row in rows if row["images"]]
        assert with_images and all(len(row["images"]) == (1 if images == "one" else len(row["images"])) for row in with_images)
        if images == "all":
            assert any(len(row["images"]) == 2 for row in with_images)
    from safetensors.torch import load_file

    state = load_file(str(run_dir / "model.safetensors"))
    assert "crf.transitions" in state and (model != "umt" or any(k.startswith("bert.") for k in state))
    assert ("visual_attention.query.weight" in state) == (model == "acn" and images != "none")


def test_report_lists_every_run_side_by_side(setup):
    if len(setup["runs"]) < 6:
        pytest.skip("needs the runs of the previous test")
    result = run_cli("-w", setup["ws"], "baseline", "report")
    assert result.exit_code == 0
    for run_id in setup["runs"].values():
        assert run_id in result.stdout
    rows = json.loads(run_cli("-w", setup["ws"], "baseline", "report", "--json").stdout)
    assert {(row["model"], row["images"]) for row in rows} >= {("ACN", "none"), ("UMT", "all")}
    assert all(row["split"] == "test" for row in rows)


def test_error_report_counts_errors_and_compares_text_and_image_runs(setup):
    if len(setup["runs"]) < 6:
        pytest.skip("needs the runs of the previous test")
    text_run, image_run = setup["runs"][("acn", "none")], setup["runs"][("acn", "all")]
    result = run_cli("-w", setup["ws"], "baseline", "report", "--errors", text_run, image_run[:22], "--json")
    assert result.exit_code == 0, result.error
    report = json.loads(result.stdout)
    for counts in report["errors"]:
        gold_accounted = counts["correct"] + counts["wrong_type"] + counts["missed"]
        assert gold_accounted <= counts["gold"]  # boundary errors account for the rest
        assert counts["correct"] + counts["wrong_type"] + counts["wrong_boundary"] + counts["spurious"] == counts["predicted"]
    assert [(c["text_run"], c["image_run"]) for c in report["comparisons"]] == [(text_run, image_run)]
    table = run_cli("-w", setup["ws"], "baseline", "report", "--errors", text_run, image_run)
    assert "Errors by kind" in table.stdout and "image changed the outcome" in table.stdout
    missing = run_cli("-w", setup["ws"], "baseline", "report", "--errors", "no-such-run")
    assert missing.exit_code == 2 and "no finished run" in missing.error


def test_export_without_test_split_reports_dev_and_says_so(setup):
    export = write_export(setup["root"] / "no-test", {"train": make_posts(8, 4), "dev": make_posts(4, 5)})
    result = run_cli("-w", setup["ws"], "baseline", "acn", "--export", export, *COMMON, "--hidden", "8")
    assert result.exit_code == 0, result.error
    summary = json.loads(result.stdout)
    assert summary["evaluated_split"] == "dev" and summary["metrics"]["test"] is None
    assert "no test split" in result.stderr
    metrics = json.loads((setup["ws"] / "runs" / summary["run_id"] / "metrics.json").read_text())
    assert metrics["test"] is None and set(metrics["dev"]) == {"precision", "recall", "f1", "per_type"}


def test_bad_input_is_a_one_line_error(setup):
    result = run_cli("-w", setup["ws"], "baseline", "acn", "--export", setup["root"] / "absent", *COMMON)
    assert result.exit_code == 2 and "not a folder" in result.error
    result = run_cli("-w", setup["ws"], "baseline", "acn", "--images", "some", "--export", setup["export"], *COMMON)
    assert result.exit_code == 2 and "--images" in result.error
    result = run_cli("-w", setup["ws"], "baseline", "acn", "--images", "all", "--export", setup["export"],
                     "--encoder", "other/encoder", *COMMON)
    assert result.exit_code == 2 and "cmner-build features" in result.error


def test_features_of_the_workspace_kept_images(tmp_path, setup):
    from cmner_build.commands.demo import sample_dir

    ws = tmp_path / "ws"
    sample = sample_dir()
    assert run_cli("-w", ws, "import", sample / "sample.txt", "--format", "cmner", "--images", sample / "images").exit_code == 0
    result = run_cli("-w", ws, "features", "--encoder", setup["resnet"], "--device", "cpu", "--json")
    assert result.exit_code == 0, result.error
    report = json.loads(result.stdout)
    assert report["images"] == len(list((sample / "images").glob("*.jpg"))) == report["extracted"]


def test_demo_ends_with_an_acn_run_and_the_report(demo_run):
    root, result = demo_run
    assert result.exit_code == 0, result.error
    runs = [p for p in (root / "runs").iterdir() if (p / "metrics.json").is_file()]
    assert len(runs) == 1 and "-acn-none-" in runs[0].name
    assert runs[0].name in result.stdout  # the report step printed it


def _twitter_folder(folder):
    folder.mkdir()
    tweets = {
        "train": ["IMGID:11\nRT\tO\n@Tom\tB-PER\nvisits\tO\nNew\tB-LOC\nYork\tI-LOC\n",
                  "IMGID:12\nApple\tB-ORG\nlaunches\tO\niPhone\tB-OTHER\n", "IMGID:13\nnice\tO\nday\tO\n"],
        "valid": ["IMGID:21\nTom\tB-PER\nin\tO\nParis\tB-LOC\n"],
        "test": ["IMGID:31\nApple\tB-ORG\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n"],
    }
    for split, blocks in tweets.items():
        (folder / f"{split}.txt").write_text("\n".join(blocks), encoding="utf-8")
    return folder


def test_twitter2015_runs_and_cross_lingual_training(setup):
    twitter = _twitter_folder(setup["root"] / "twitter2015")
    result = run_cli("-w", setup["ws"], "baseline", "acn", "--export", twitter, *COMMON, "--hidden", "8")
    assert result.exit_code == 0, result.error
    summary = json.loads(result.stdout)
    config = json.loads((setup["ws"] / "runs" / summary["run_id"] / "config.json").read_text())
    assert config["export_format"] == "twitter2015" and config["posts"] == {"train": 3, "dev": 1, "test": 1}
    rows = (setup["ws"] / "runs" / summary["run_id"] / "predictions.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["tokens"] == ["Apple", "in", "New", "York"]
    result = run_cli("-w", setup["ws"], "baseline", "umt", "--export", setup["export"], "--also-train", twitter,
                     "--bert", setup["bert"], *COMMON)
    assert result.exit_code == 0, result.error
    summary = json.loads(result.stdout)
    config = json.loads((setup["ws"] / "runs" / summary["run_id"] / "config.json").read_text())
    assert config["posts"]["train"] == 16 + 3 and config["also_train"] == [str(twitter)]
    assert "added 3 training posts" in result.stderr
