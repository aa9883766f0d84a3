"""Cross-lingual transfer end to end: every pre-training regime with ACN on CPU and with a tiny UMT,
`--init-from` starting from a real saved run (vocabularies and labels merged), `--freeze-layers`,
MUSE-format aligned vectors, and `report --crosslingual` beside the published figures."""

from __future__ import annotations

import json
import random
import shlex
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cmner_build.errors import CmnerError
from cmner_build.formats import format_tagged, read_tagged_file
from cmner_build.workspace import init_workspace
from cmner_build.baselines.acn import load_vectors, pretrained_matrix
from cmner_build.baselines.settings import PUBLISHED_CROSSLINGUAL
from cmner_build.baselines.translate_corpus import translate_export
from cmner_build.baselines.translators import CommandTranslator
from cmner_build.baselines.vocab import Vocab
from cmner_build.baselines.warm_start import label_axes, merge_items, transfer_state

from tests.baselines_helpers import make_posts, tiny_bert, write_export
from tests.helpers import run_cli

SCRIPT = Path(__file__).with_name("dictionary_translator.py")
EN_TEMPLATES = [
    ("{PER} visited {LOC} today .", ("PER", "LOC")),
    ("{PER} works at {ORG} in {LOC}", ("PER", "ORG", "LOC")),
    ("{PER} loves {MISC} !", ("PER", "MISC")),
    ("today .", ()),
]
EN_FILL = {"PER": ["Tom", "Mary"], "LOC": ["Beijing", "New York"], "ORG": ["Google"], "MISC": ["Olympics"]}


def english_posts(count: int, seed: int) -> list[tuple[str, list[str], list[str]]]:
    rng = random.Random(seed)
    posts = []
    for i in range(count):
        template, labels = rng.choice(EN_TEMPLATES)
        tokens, tags = [], []
        for word in template.split(" "):
            if word.startswith("{"):
                label = word[1:-1]
                entity = rng.choice(EN_FILL[label]).split(" ")
                tokens += entity
                tags += [f"B-{label}"] + [f"I-{label}"] * (len(entity) - 1)
            else:
                tokens.append(word)
                tags.append("O")
        posts.append((f"{seed}{i:03d}", tokens, tags))
    return posts


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("crosslingual")
    workspace, _ = init_workspace(root / "ws")
    workspace.close()
    source = root / "twitter"
    source.mkdir()
    for name, (count, seed) in {"train.txt": (14, 1), "valid.txt": (5, 2), "test.txt": (5, 3)}.items():
        (source / name).write_bytes(format_tagged(english_posts(count, seed), "twitter2015").encode("utf-8"))
    target = write_export(root / "cmner", {"train": make_posts(14, 1), "dev": make_posts(5, 2), "test": make_posts(5, 3)})
    translated = root / "ws" / "exports" / "twitter-zh"
    command = CommandTranslator(shlex.join([sys.executable, str(SCRIPT), "en-zh"]))
    report = translate_export(source, "zh", command, translated)
    assert report.rejected == 0
    posts = [(d.doc_id, d.tokens, d.tags) for folder in (target, translated) for name in ("train.txt", "dev.txt")
             for d in read_tagged_file(folder / name, "cmner").documents]
    bert = tiny_bert(root / "bert", posts)
    return {"ws": root / "ws", "source": source, "target": target, "translated": translated, "bert": bert}


ACN = ("--epochs", "1", "--device", "cpu", "--seed", "3", "--hidden", "8", "--embedding-dim", "8", "--json")


def _cli(*args) -> dict:
    result = run_cli(*args)
    assert result.exit_code == 0, result.error or result.output
    return json.loads(result.stdout)


def _config(corpora, run_id: str) -> dict:
    return json.loads((corpora["ws"] / "runs" / run_id / "config.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("pretrain, train_posts", [("SRC", 14), ("TGT", 14), ("SRC+TGT", 28)])
def test_acn_two_stage_regimes(corpora, pretrain, train_posts):
    summary = _cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", pretrain, "--source", corpora["source"],
                   "--translated", corpora["translated"], "--export", corpora["target"], *ACN)
    finetune = _config(corpora, summary["run_id"])
    assert finetune["regime"]["stage"] == "finetune" and finetune["regime"]["direction"] == "en-zh"
    assert finetune["export_format"] == "cmner" and finetune["posts"]["train"] == 14
    pretrain_config = _config(corpora, finetune["regime"]["pretrain_run"])
    assert finetune["init_from_run"] == pretrain_config["run_id"]
    assert pretrain_config["regime"] | {"pretrain_run": None} == finetune["regime"] | {"stage": "pretrain", "pretrain_run": None}
    assert pretrain_config["posts"]["train"] == train_posts
    assert pretrain_config["posts"]["dev"] == train_posts * 5 // 14
    warm = finetune["model_config"]["warm_start"]
    assert warm["copied"] > 0 and warm["merged"] >= 5  # embeddings, chars, output, CRF
    shared, total = map(int, warm["shared_rows"]["embedding.weight"].split(" / "))
    # Shared items ([PAD], [UNK] at least) are copied; the target's own characters are added after them.
    assert 2 <= shared < total


@pytest.mark.parametrize("pretrain", ["SRC", "SRC+TGT"])
def test_umt_two_stage_regimes(corpora, pretrain):
    summary = _cli("-w", corpora["ws"], "baseline", "umt", "--pretrain", pretrain, "--source", corpora["source"],
                   "--translated", corpora["translated"], "--export", corpora["target"], "--bert", corpora["bert"],
                   "--epochs", "1", "--device", "cpu", "--batch-size", "8", "--json")
    finetune = _config(corpora, summary["run_id"])
    assert finetune["regime"]["pretrain"] == pretrain and finetune["model_config"]["warm_start"]["copied"] > 0
    assert _config(corpora, finetune["regime"]["pretrain_run"])["posts"]["train"] == 14 * len(pretrain.split("+"))


def test_chinese_to_english_regime(corpora, tmp_path):
    """zh -> en: CMNER-layout source, its English translation, fine-tuning on the Twitter-layout export."""
    translated = tmp_path / "cmner-en"
    command = CommandTranslator(shlex.join([sys.executable, str(SCRIPT), "zh-en"]))
    report = translate_export(corpora["target"], "en", command, translated)
    assert sum(report.kept.values()) > 0
    summary = _cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", "SRC+TGT", "--source", corpora["target"],
                   "--translated", translated, "--export", corpora["source"], *ACN)
    finetune = _config(corpora, summary["run_id"])
    assert finetune["regime"]["direction"] == "zh-en" and finetune["export_format"] == "twitter2015"
    rows = _cli("-w", corpora["ws"], "baseline", "report", "--crosslingual", "--json")
    row = next(r for r in rows if (r["direction"], r["model"], r["pretrain"]) == ("zh-en", "ACN", "SRC+TGT"))
    assert row["run"] == summary["run_id"] and row["paper_F1"] == 66.11


def test_init_from_starts_from_the_saved_weights(corpora):
    pretrained = _cli("-w", corpora["ws"], "baseline", "acn", "--export", corpora["translated"], *ACN)
    # lr 0: training changes nothing, so the saved weights are the weights the run started from.
    started = _cli("-w", corpora["ws"], "baseline", "acn", "--export", corpora["target"], "--init-from",
                   pretrained["run_id"][:-2], "--lr", "0", *ACN)
    scratch = _cli("-w", corpora["ws"], "baseline", "acn", "--export", corpora["target"], "--lr", "0", *ACN)
    runs = corpora["ws"] / "runs"
    before, after, fresh = (load_file(str(runs / summary["run_id"] / "model.safetensors"))
                            for summary in (pretrained, started, scratch))
    lstm = "lstm.forward_lstm.weight_ih_l0"
    assert torch.equal(after[lstm], before[lstm]) and not torch.equal(fresh[lstm], before[lstm])
    assert torch.equal(after["crf.transitions"], before["crf.transitions"])
    old_vocab, new_vocab = (json.loads((runs / s["run_id"] / "vocab.json").read_text(encoding="utf-8"))["tokens"]
                            for s in (pretrained, started))
    assert new_vocab[: len(old_vocab)] == old_vocab and len(new_vocab) > len(old_vocab)  # merged, new items after
    shared = len(old_vocab)
    assert torch.equal(after["embedding.weight"][:shared], before["embedding.weight"])
    assert after["embedding.weight"].shape[0] == len(new_vocab)
    assert _config(corpora, started["run_id"])["init_from_run"] == pretrained["run_id"]
    # A UMT run cannot start from an ACN run.
    result = run_cli("-w", corpora["ws"], "baseline", "umt", "--export", corpora["target"], "--init-from",
                     pretrained["run_id"], "--bert", corpora["bert"], "--epochs", "1", "--device", "cpu")
    assert result.exit_code != 0 and "is a ACN run" in (result.error or result.output)


def test_umt_two_stage_with_frozen_layers_starts_from_the_pretrained_weights(corpora):
    common = ("--bert", corpora["bert"], "--freeze-layers", "1", "--epochs", "1", "--device", "cpu",
              "--batch-size", "8", "--seed", "3", "--json")
    summary = _cli("-w", corpora["ws"], "baseline", "umt", "--pretrain", "TGT", "--translated", corpora["translated"],
                   "--export", corpora["target"], "--lr", "1e-3", *common)
    runs = corpora["ws"] / "runs"
    finetune = _config(corpora, summary["run_id"])
    pretrain_id = finetune["regime"]["pretrain_run"]
    assert finetune["model_config"]["frozen_parameters"] > 0 and finetune["freeze_layers"] == 1
    # Fine-tune again from the pre-training run with lr 0: its weights are the pre-trained ones.
    again = _cli("-w", corpora["ws"], "baseline", "umt", "--export", corpora["target"], "--init-from", pretrain_id,
                 "--lr", "0", *common)
    original = load_file(str(Path(corpora["bert"]) / "model.safetensors"))
    before, after = (load_file(str(runs / run / "model.safetensors")) for run in (pretrain_id, again["run_id"]))
    trained = "bert.encoder.layer.1.attention.self.query.weight"
    frozen = "bert.encoder.layer.0.attention.self.query.weight"
    original_key = next(key for key in original if key.endswith("encoder.layer.1.attention.self.query.weight"))
    assert not torch.equal(before[trained], original[original_key])  # pre-training moved layer 1 ...
    assert torch.equal(after[trained], before[trained])  # ... and the fine-tuned run started there
    frozen_key = original_key.replace("layer.1", "layer.0")
    assert torch.equal(before[frozen], original[frozen_key])  # layer 0 was frozen during pre-training
    assert _config(corpora, again["run_id"])["model_config"]["bert"] == str(corpora["bert"])  # --bert from the run


def test_report_crosslingual_beside_the_published_figures(corpora):
    _cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", "SRC", "--source", corpora["source"],
         "--export", corpora["target"], *ACN)
    _cli("-w", corpora["ws"], "baseline", "acn", "--export", corpora["target"], *ACN)  # the target-only row
    rows = _cli("-w", corpora["ws"], "baseline", "report", "--crosslingual", "--json")
    by_cell = {(row["direction"], row["model"], row["pretrain"]): row for row in rows}
    src = by_cell[("en-zh", "ACN", "SRC")]
    assert src["run"] and _config(corpora, src["run"])["regime"]["pretrain"] == "SRC"
    assert (src["paper_P"], src["paper_R"], src["paper_F1"]) == PUBLISHED_CROSSLINGUAL["en-zh"]["ACN"]["SRC"]
    assert 0 <= src["F1"] <= 100 and src["split"] == "test"
    assert by_cell[("en-zh", "ACN", "-")]["run"] and by_cell[("en-zh", "ACN", "-")]["paper_F1"] == 74.52
    empty = by_cell[("zh-en", "UMT", "SRC+TGT")]
    assert empty["run"] is None and empty["F1"] is None and empty["paper_F1"] == 75.34
    # No pre-training stage appears as a row of its own.
    pretrain_runs = {_config(corpora, row["run"])["regime"].get("pretrain_run") for row in rows
                     if row["run"] and _config(corpora, row["run"]).get("regime")}
    assert not pretrain_runs & {row["run"] for row in rows}
    table = run_cli("-w", corpora["ws"], "baseline", "report", "--crosslingual")
    assert table.exit_code == 0 and "75.60" in table.stdout and "en-zh" in table.stdout


def test_regime_errors_are_clear(corpora):
    result = run_cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", "TGT", "--export", corpora["target"])
    assert result.exit_code != 0 and "--translated" in (result.error or result.output)
    result = run_cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", "SRC", "--source", corpora["target"],
                     "--export", corpora["target"])
    assert result.exit_code != 0 and "other language" in (result.error or result.output)
    result = run_cli("-w", corpora["ws"], "baseline", "acn", "--pretrain", "SRC", "--source", corpora["source"],
                     "--also-train", corpora["source"], "--export", corpora["target"])
    assert result.exit_code != 0 and "--also-train" in (result.error or result.output)
    result = run_cli("-w", corpora["ws"], "baseline", "acn", "--freeze-layers", "2")
    assert result.exit_code != 0


# ------------------------------------------------------------------------------------------ units


def test_labels_are_matched_by_name_not_position():
    from torch import nn

    class Head(nn.Module):
        def __init__(self, tags: int) -> None:
            super().__init__()
            self.output = nn.Linear(2, tags)
            self.crf = nn.Module()
            self.crf.start_transitions = nn.Parameter(torch.arange(float(tags)))
            self.crf.end_transitions = nn.Parameter(torch.zeros(tags))
            self.crf.transitions = nn.Parameter(torch.arange(float(tags * tags)).view(tags, tags))

    saved_tags, tags = ["O", "B-PER", "I-PER"], ["O", "B-LOC", "I-PER", "B-PER"]
    source, target = Head(3), Head(4)
    before = target.crf.start_transitions.detach().clone()
    report = transfer_state(source.state_dict(), target, label_axes("crf", saved_tags, tags, "output"))
    assert target.crf.start_transitions.tolist() == [0.0, before[1].item(), 2.0, 1.0]  # B-LOC stays fresh
    assert target.crf.transitions[3, 2].item() == source.crf.transitions[1, 2].item()  # B-PER -> I-PER
    assert torch.equal(target.output.weight[3], source.output.weight[1])
    assert report.shared_rows["crf.start_transitions"] == "3 / 4"


def test_vocabularies_merge_saved_items_first():
    assert merge_items(["[PAD]", "[UNK]", "a", "b"], ["[PAD]", "[UNK]", "c", "a"]) == ["[PAD]", "[UNK]", "a", "b", "c"]


def test_muse_aligned_vectors_load(tmp_path):
    """MUSE's wiki.multi.*.vec files are fastText text: a 'count dim' header, then 'word v1 .. vd'."""
    path = tmp_path / "wiki.multi.en-zh.vec"
    path.write_text("3 4\nbeijing 0.1 0.2 0.3 0.4\n北 1 2 3 4\nunused 0 0 0 0\n", encoding="utf-8")
    dim, vectors = load_vectors(path, {"beijing", "北", "京"})
    assert dim == 4 and set(vectors) == {"beijing", "北"}
    matrix = pretrained_matrix(Vocab(["北", "京", "beijing"]), dim, vectors)
    assert matrix[2].tolist() == [1.0, 2.0, 3.0, 4.0] and torch.isnan(matrix[3]).all()
    path.write_text("3 4\nbeijing 0.1 0.2 0.3 0.4\nbad 1 2\n", encoding="utf-8")
    with pytest.raises(CmnerError, match="2 values, expected 4"):
        load_vectors(path)


def test_real_slices_twitter_2015_to_cmner(shared_data, tmp_path):
    """30 Twitter-2015 posts translated by a copying command (`cat`), then ACN pre-trained on SRC+TGT and
    fine-tuned on 30 CMNER posts (the public CMNER text has no test split: dev is scored)."""
    from cmner_build.baselines.crosslingual import run_two_stage
    from cmner_build.baselines.experiment import BaselineOptions

    def slice_of(source: Path, names: dict[str, str], fmt: str, count: int) -> Path:
        folder = tmp_path / source.name
        folder.mkdir()
        for name, out in names.items():
            documents = read_tagged_file(source / name, fmt).documents[:count]
            (folder / out).write_bytes(format_tagged([(d.doc_id, d.tokens, d.tags) for d in documents], fmt).encode("utf-8"))
        return folder

    twitter = slice_of(shared_data / "twitter2015", {"train.txt": "train.txt", "valid.txt": "valid.txt"}, "twitter2015", 30)
    cmner = slice_of(shared_data / "cmner", {"train.txt": "train.txt", "dev.txt": "dev.txt"}, "cmner", 30)
    translated = tmp_path / "twitter-zh"
    report = translate_export(twitter, "zh", CommandTranslator("cat"), translated)
    assert report.rejected == 0 and report.entities_kept == report.entities
    options = BaselineOptions(model="acn", export_dir=cmner, epochs=1, device="cpu", hidden=8, embedding_dim=8)
    outcome = run_two_stage(options, "SRC+TGT", source_export=twitter, translated_export=translated,
                            runs_dir=tmp_path / "runs", features_root=tmp_path / "features")
    assert outcome.direction == "en-zh"
    pretrain = json.loads((outcome.pretrain_run.run_dir / "config.json").read_text(encoding="utf-8"))
    assert pretrain["posts"] == {"train": 60, "dev": 60}
    assert outcome.finetune_run.evaluated_split == "dev"
    assert json.loads((outcome.finetune_run.run_dir / "config.json").read_text(encoding="utf-8"))["posts"]["train"] == 30
