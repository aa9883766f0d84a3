"""`translate`: the SPAN placeholder method in both directions with a dictionary translator run as an
external command, rejections counted, the cache and resuming, the file translator, a tiny local Marian
model loaded through `from_pretrained(path)`, and a slice of the real Twitter-2015 data."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from cmner_build.errors import CmnerError
from cmner_build.formats import format_tagged, read_tagged_file
from cmner_build.baselines.data import load_export
from cmner_build.baselines.span_translation import Rejected, chunk_entities, mask_post, unmask
from cmner_build.baselines.translate_corpus import translate_export
from cmner_build.baselines.translators import CommandTranslator, FileTranslator, MarianTranslator

from tests.baselines_helpers import write_image
from tests.helpers import run_cli

SCRIPT = Path(__file__).with_name("dictionary_translator.py")


def dictionary_command(direction: str) -> str:
    return shlex.join([sys.executable, str(SCRIPT), direction])


def _words(text: str, tags: str) -> tuple[list[str], list[str]]:
    return text.split(" "), tags.split(" ")


# Twitter-2015 layout, English: (id, tokens, tags).
EN_POSTS = {
    "train": [
        ("1001", *_words("Tom visited Beijing today .", "B-PER O B-LOC O O")),
        ("1002", *_words("Mary works at Google in New York", "B-PER O O B-ORG O B-LOC I-LOC")),
        ("1003", *_words("I forget Tom", "O O B-PER")),  # the translator drops the placeholder
        ("1007", *_words("today .", "O O")),
    ],
    "dev": [
        ("1004", *_words("twice Mary loves Tom", "O B-PER O B-PER")),  # a placeholder doubled
        ("1005", *_words("glue Tom .", "O B-PER O")),  # SPAN -> SPANs
        ("1008", *_words("Tom loves Mary", "B-PER O B-PER")),
    ],
    "test": [
        ("1006", *_words("the SPAN today", "O O O")),  # the source already holds the placeholder
        ("1009", *_words("Olympics !", "B-MISC O")),
    ],
}
# CMNER layout, Chinese.
ZH_POSTS = {
    "train": [
        ("A1", list("汤姆今天访问了北京。"), "B-PER I-PER O O O O O B-LOC I-LOC O".split()),
        ("A2", list("张三在华为工作"), "B-PER I-PER O B-ORG I-ORG O O".split()),
        ("A3", list("我忘记北京"), "O O O B-LOC I-LOC".split()),
        ("A4", list("ABC北京"), "O O O B-LOC I-LOC".split()),
    ],
    "dev": [("A5", list("玛丽爱汤姆"), "B-PER I-PER O B-PER I-PER".split())],
    "test": [("A6", list("去上海"), "O B-LOC I-LOC".split())],
}


def write_release(folder: Path, posts: dict, fmt: str, images: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True)
    names = {"train": "train.txt", "dev": "valid.txt" if fmt == "twitter2015" else "dev.txt", "test": "test.txt"}
    for split, docs in posts.items():
        (folder / names[split]).write_bytes(format_tagged(docs, fmt).encode("utf-8"))
    (folder / "images").mkdir()
    for number, (post_id, files) in enumerate(images.items()):
        for file_name in files:
            write_image(folder / "images" / file_name, number)
    return folder


@pytest.fixture
def english(tmp_path):
    return write_release(tmp_path / "twitter", EN_POSTS, "twitter2015",
                         {"1001": ["1001.jpg"], "1003": ["1003.jpg"], "1008": ["1008.jpg"]})


@pytest.fixture
def chinese(tmp_path):
    return write_release(tmp_path / "cmner", ZH_POSTS, "cmner", {"A1": ["A1_0.jpg", "A1_1.jpg"], "A3": ["A3_0.jpg"]})


def _posts(folder: Path, name: str, fmt: str) -> dict[str, tuple[list[str], list[str]]]:
    return {doc.doc_id: (doc.tokens, doc.tags) for doc in read_tagged_file(folder / name, fmt).documents}


# ------------------------------------------------------------------------------------------ the method


def test_entities_are_chunked_like_seqeval_lenient():
    tags = ["B-PER", "I-PER", "B-PER", "I-LOC", "O", "I-ORG", "I-ORG"]
    assert chunk_entities(tags) == [(0, 2, "PER"), (2, 3, "PER"), (3, 4, "LOC"), (5, 7, "ORG")]


def test_mask_keeps_entities_in_order_and_the_placeholder_apart_from_latin_letters():
    masked = mask_post("A4", list("ABC北京x"), "O O O B-LOC I-LOC O".split(), "zh")
    assert masked.sentence == "ABC SPAN x"
    masked = mask_post("1", *_words("Mary works at New York", "B-PER O O B-LOC I-LOC"), "en")
    assert masked.sentence == "SPAN works at SPAN"
    assert [(e.label, e.text) for e in masked.entities] == [("PER", "Mary"), ("LOC", "New York")]


def test_unmask_labels_every_character_of_a_chinese_entity():
    masked = mask_post("1", *_words("Tom visited New York", "B-PER O B-LOC I-LOC"), "en")
    tokens, tags = unmask(masked, "SPAN 访问了 SPAN。", ["汤姆", "纽约。"], "zh")
    assert tokens == list("汤姆访问了纽约。")[:7] + ["。"]
    assert tags == ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "I-LOC", "O"]


def test_unmask_labels_english_tokens_and_splits_punctuation_off_the_placeholder():
    masked = mask_post("1", list("汤姆爱北京"), "B-PER I-PER O B-LOC I-LOC".split(), "zh")
    tokens, tags = unmask(masked, "SPAN's love for SPAN, really", ["Tom", "Beijing."], "en")
    assert tokens == ["Tom", "'s", "love", "for", "Beijing", ",", "really"]
    assert tags == ["B-PER", "O", "O", "O", "B-LOC", "O", "O"]


@pytest.mark.parametrize("translation, reason", [
    ("SPAN loves", "placeholder lost"),
    ("SPAN loves SPAN SPAN", "placeholder duplicated"),
    ("SPANs loves SPAN", "placeholder glued to other letters"),
    ("   ", "empty sentence translation"),
])
def test_broken_placeholders_are_rejected_with_their_reason(translation, reason):
    masked = mask_post("1", *_words("Tom loves Mary", "B-PER O B-PER"), "en")
    with pytest.raises(Rejected) as caught:
        unmask(masked, translation, ["汤姆", "玛丽"], "zh")
    assert caught.value.kind == reason


def test_an_entity_translated_to_nothing_is_rejected():
    masked = mask_post("1", *_words("Tom loves Mary", "B-PER O B-PER"), "en")
    with pytest.raises(Rejected, match="empty entity translation"):
        unmask(masked, "SPAN爱SPAN", ["汤姆", " 。"], "zh")


# --------------------------------------------------------------------------------- whole corpora


def test_english_to_chinese_through_an_external_command(english, tmp_path):
    output = tmp_path / "zh"
    report = translate_export(english, "zh", CommandTranslator(dictionary_command("en-zh")), output,
                              cache_path=tmp_path / "cache.jsonl", batch_size=3)
    assert report.direction == "en-zh"
    assert report.posts == {"train": 4, "dev": 3, "test": 2} and report.kept == {"train": 3, "dev": 1, "test": 1}
    assert report.rejected == 4
    assert report.reasons == {"placeholder lost": 1, "placeholder duplicated": 1,
                              "placeholder glued to other letters": 1, "the source already contains the placeholder": 1}
    assert (report.entities, report.entities_kept) == (12, 8)
    data = load_export(output)
    assert data.fmt == "cmner"
    train = _posts(output, "train.txt", "cmner")
    assert train["1001"] == (list("汤姆访问了北京今天。"), "B-PER I-PER O O O B-LOC I-LOC O O O".split())
    assert train["1002"] == (list("玛丽工作在谷歌在新约克"), "B-PER I-PER O O O B-ORG I-ORG O B-LOC I-LOC I-LOC".split())
    assert train["1007"] == (list("今天。"), ["O", "O", "O"])
    assert _posts(output, "dev.txt", "cmner") == {"1008": (list("汤姆爱玛丽"), "B-PER I-PER O B-PER I-PER".split())}
    assert _posts(output, "test.txt", "cmner") == {"1009": (list("奥运会！"), "B-MISC I-MISC I-MISC O".split())}
    # Images of the surviving posts only, under their release names.
    assert sorted(p.name for p in (output / "images").iterdir()) == ["1001.jpg", "1008.jpg"]
    assert [post.image_files for post in data.splits["dev"]] == [["1008.jpg"]]
    rejected = [json.loads(line) for line in (output / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {(row["post_id"], row["reason"]) for row in rejected} == {
        ("1003", "placeholder lost"), ("1004", "placeholder duplicated"),
        ("1005", "placeholder glued to other letters"), ("1006", "the source already contains the placeholder")}
    assert json.loads((output / "translation.json").read_text(encoding="utf-8"))["rejected"] == 4


def test_chinese_to_english_through_an_external_command(chinese, tmp_path):
    output = tmp_path / "en"
    report = translate_export(chinese, "en", CommandTranslator(dictionary_command("zh-en")), output)
    assert report.kept == {"train": 3, "dev": 1, "test": 1} and report.reasons == {"placeholder lost": 1}
    data = load_export(output)
    assert data.fmt == "twitter2015" and (output / "valid.txt").is_file()
    train = _posts(output, "train.txt", "twitter2015")
    assert train["A1"] == (["Tom", "today", "visited", "Beijing", "."], ["B-PER", "O", "O", "B-LOC", "O"])
    assert train["A2"] == (["Zhang", "San", "in", "Huawei", "works"], ["B-PER", "I-PER", "O", "B-ORG", "O"])
    assert train["A4"] == (["A", "B", "C", "Beijing"], ["O", "O", "O", "B-LOC"])
    assert _posts(output, "test.txt", "twitter2015")["A6"] == (["went", "to", "Shanghai"], ["O", "O", "B-LOC"])
    assert sorted(p.name for p in (output / "images").iterdir()) == ["A1_0.jpg", "A1_1.jpg"]


def test_the_cache_resumes_and_is_itself_a_translation_file(english, tmp_path):
    cache = tmp_path / "cache.jsonl"
    first = translate_export(english, "zh", CommandTranslator(dictionary_command("en-zh")), tmp_path / "a",
                             cache_path=cache)
    assert first.translated == first.strings > 0
    # A killed run leaves a partial last line; it is ignored and the next append starts a fresh line.
    with cache.open("a", encoding="utf-8") as handle:
        handle.write('{"source": "cut sh')
    # Everything is cached: a translator that would fail is never called.
    failing = CommandTranslator(shlex.join([sys.executable, "-c", "import sys; sys.exit(3)"]))
    again = translate_export(english, "zh", failing, tmp_path / "b", cache_path=cache)
    assert again.translated == 0 and again.kept == first.kept
    assert (tmp_path / "a" / "train.txt").read_bytes() == (tmp_path / "b" / "train.txt").read_bytes()
    # The cache file drives --translator file; a sentence it lacks rejects only the posts that need it.
    lines = cache.read_text(encoding="utf-8").splitlines()[:-1]
    kept = [line for line in lines if json.loads(line)["source"] != "Olympics"]
    (tmp_path / "partial.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    from_file = translate_export(english, "zh", FileTranslator(tmp_path / "partial.jsonl"), tmp_path / "c")
    assert from_file.kept == {"train": 3, "dev": 1, "test": 0}
    assert from_file.reasons["no translation given"] == 1


def test_a_command_that_loses_lines_is_an_error_and_writes_nothing(english, tmp_path):
    head = CommandTranslator(shlex.join([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.readline())"]))
    with pytest.raises(CmnerError, match="1 lines for"):
        translate_export(english, "zh", head, tmp_path / "out", batch_size=4)
    assert not (tmp_path / "out").exists()
    failing = CommandTranslator(shlex.join([sys.executable, "-c", "import sys; sys.stderr.write('no model'); sys.exit(4)"]))
    with pytest.raises(CmnerError, match="exited with 4: no model"):
        translate_export(english, "zh", failing, tmp_path / "out")
    with pytest.raises(CmnerError, match="not found"):
        translate_export(english, "zh", CommandTranslator("no-such-translator-program"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(CmnerError, match="already in en"):
        translate_export(english, "en", head, tmp_path / "out")


def test_a_split_left_empty_writes_nothing(tmp_path):
    source = write_release(tmp_path / "en", {"train": EN_POSTS["train"], "dev": EN_POSTS["dev"][:2]}, "twitter2015", {})
    with pytest.raises(CmnerError, match="no dev post"):
        translate_export(source, "zh", CommandTranslator(dictionary_command("en-zh")), tmp_path / "zh")
    assert not (tmp_path / "zh").exists()


def test_cli_translate(english, workspace):
    output = workspace.root / "exports" / "twitter-zh"
    result = run_cli("-w", workspace.root, "translate", "--to", "zh", "--export", english, "--output", output,
                     "--translator", "command", "--command", dictionary_command("en-zh"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kept"] == {"train": 3, "dev": 1, "test": 1} and summary["rejected"] == 4
    assert Path(summary["cache"]).is_file() and Path(summary["cache"]).is_relative_to(workspace.root)
    assert load_export(output).fmt == "cmner"
    # The cache drives --translator file; the output is the same corpus.
    again = run_cli("-w", workspace.root, "translate", "--to", "zh", "--export", english, "--output",
                    workspace.root / "from-file", "--translator", "file", "--translations", summary["cache"])
    assert again.exit_code == 0, again.output
    assert (workspace.root / "from-file" / "train.txt").read_bytes() == (output / "train.txt").read_bytes()
    missing = run_cli("-w", workspace.root, "translate", "--to", "zh", "--export", english, "--translator", "file")
    assert missing.exit_code == 2 and "--translations" in missing.error


# ------------------------------------------------------------------------------------------ Marian


def tiny_marian(folder: Path, sentences: list[str]) -> Path:
    """A random 1-layer Marian model with sentencepiece vocabularies trained here on `sentences`."""
    spm = pytest.importorskip("sentencepiece")
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True)
    for name in ("source", "target"):
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences * 5), model_prefix=str(folder / name), vocab_size=60,
            character_coverage=1.0, user_defined_symbols=["SPAN"], hard_vocab_limit=False,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
        )
    processor = spm.SentencePieceProcessor(model_file=str(folder / "source.model"))
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    target = spm.SentencePieceProcessor(model_file=str(folder / "target.model"))
    for i in range(target.get_piece_size()):
        vocab.setdefault(target.id_to_piece(i), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = MarianTokenizer(source_spm=str(folder / "source.model"), target_spm=str(folder / "target.model"),
                                vocab=str(folder / "vocab.json"))
    config = MarianConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, dropout=0.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )
    model_dir = folder / "model"
    MarianMTModel(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir


MARIAN_PAIRS = {"SPAN visited SPAN today .": "SPAN访问了SPAN今天。", "SPAN loves SPAN": "SPAN爱SPAN",
                "Tom": "汤姆", "Beijing": "北京", "Mary": "玛丽"}


@pytest.fixture(scope="module")
def trained_marian(tmp_path_factory) -> Path:
    """A tiny Marian model taught the five translations the test needs (60 steps; it knows them by about step 40)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.manual_seed(0)
    sources = list(MARIAN_PAIRS)
    targets = [MARIAN_PAIRS[source] for source in sources]
    model_dir = tiny_marian(tmp_path_factory.mktemp("marian") / "spm", sources + targets)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    batch = tokenizer(sources, text_target=targets, return_tensors="pt", padding=True)
    batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
    # The sinusoidal position tables are fixed in Marian (rebuilt on every load): they must not train.
    for module in (model.model.encoder.embed_positions, model.model.decoder.embed_positions):
        module.weight.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(60):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    trained = model_dir.parent / "trained"
    model.save_pretrained(trained)
    tokenizer.save_pretrained(trained)
    return trained


def test_marian_path_with_a_tiny_local_model(tmp_path, trained_marian):
    # Loaded by path through from_pretrained, exactly as a hub name would be.
    translator = MarianTranslator(str(trained_marian), device="cpu", beams=1, max_new_tokens=24)
    assert translator.name == f"marian {trained_marian}"
    source = write_release(tmp_path / "en", {
        "train": [("1", *_words("Tom visited Beijing today .", "B-PER O B-LOC O O"))],
        "dev": [("2", *_words("Mary loves Tom", "B-PER O B-PER"))],
    }, "twitter2015", {})
    report = translate_export(source, "zh", translator, tmp_path / "zh", batch_size=2)
    assert report.rejected == 0 and report.entities_kept == 4
    assert _posts(tmp_path / "zh", "train.txt", "cmner")["1"] == (
        list("汤姆访问了北京今天。"), "B-PER I-PER O O O B-LOC I-LOC O O O".split())
    assert _posts(tmp_path / "zh", "dev.txt", "cmner")["2"] == (list("玛丽爱汤姆"), "B-PER I-PER O B-PER I-PER".split())


def test_marian_without_the_model_says_what_to_do(tmp_path):
    with pytest.raises(CmnerError, match="save_pretrained"):
        MarianTranslator(str(tmp_path / "no-such-model"), device="cpu")


# --------------------------------------------------------------------------------------- real data


def test_a_slice_of_twitter_2015_keeps_every_entity_with_a_copying_translator(shared_data, tmp_path):
    source = shared_data / "twitter2015"
    slice_dir = tmp_path / "slice"
    slice_dir.mkdir()
    for name in ("train.txt", "valid.txt"):
        documents = read_tagged_file(source / name, "twitter2015").documents[:25]
        (slice_dir / name).write_bytes(
            format_tagged([(d.doc_id, d.tokens, d.tags) for d in documents], "twitter2015").encode("utf-8"))
    # `cat` copies every line: the placeholders survive, and the Chinese output labels each character.
    report = translate_export(slice_dir, "zh", CommandTranslator("cat"), tmp_path / "out")
    data = load_export(slice_dir)
    assert report.rejected == 0 and report.entities_kept == report.entities > 0
    translated = load_export(tmp_path / "out")
    for original, copy in zip(data.splits["train"], translated.splits["train"]):
        assert "".join(copy.tokens) == "".join(original.tokens)
        entities = [("".join(original.tokens[s:e]), label) for s, e, label in chunk_entities(original.tags)]
        assert [("".join(copy.tokens[s:e]), label) for s, e, label in chunk_entities(copy.tags)] == entities
