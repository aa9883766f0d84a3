"""Synthetic data and tiny local models for the baseline tests (nothing is downloaded).

The posts are made up from a few templates; the models are random tiny configurations saved with
`save_pretrained` and loaded back by path, through the same code path as a hub name.
"""

from __future__ import annotations

import random
from pathlib import Path

from cmner_build.formats import format_tagged

PEOPLE = ["张三", "李小明", "王芳", "Tom", "赵四"]
PLACES = ["北京", "上海", "郑州", "杭州西湖", "NYC"]
ORGS = ["清华大学", "华为", "国家队", "CCTV"]
MISC = ["春节", "奥运会", "iPhone"]
TEMPLATES = [
    ("{PER}今天在{LOC}参加了{ORG}的活动", ("PER", "LOC", "ORG")),
    ("{ORG}宣布{MISC}期间{PER}将访问{LOC}", ("ORG", "MISC", "PER", "LOC")),
    ("我和{PER}去{LOC}看{MISC}", ("PER", "LOC", "MISC")),
    ("好开心！{LOC}的天气真好", ("LOC",)),
    ("今天什么也没做。", ()),
]
FILL = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS, "MISC": MISC}


def make_post(rng: random.Random, post_id: str) -> tuple[str, list[str], list[str]]:
    template, labels = rng.choice(TEMPLATES)
    tokens: list[str] = []
    tags: list[str] = []
    rest = template
    for label in labels:
        before, rest = rest.split("{" + label + "}", 1)
        tokens.extend(before)
        tags.extend("O" * len(before))
        entity = rng.choice(FILL[label])
        tokens.extend(entity)
        tags.extend([f"B-{label}"] + [f"I-{label}"] * (len(entity) - 1))
    tokens.extend(rest)
    tags.extend("O" * len(rest))
    return post_id, tokens, tags


def make_posts(count: int, seed: int = 0, prefix: str = "P") -> list[tuple[str, list[str], list[str]]]:
    rng = random.Random(seed)
    return [make_post(rng, f"{prefix}{seed}x{i:03d}") for i in range(count)]


def write_image(path: Path, seed: int) -> None:
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (48 + rng.randrange(40), 40 + rng.randrange(40)))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(image.width * image.height)])
    image.save(path, format="JPEG")


def write_export(folder: Path, splits: dict[str, list], *, images_per_post: dict[str, int] | None = None,
                 crlf_no_final_newline: bool = False) -> Path:
    """A CMNER-format export: {split}.txt and images/{post_id}_{n}.jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, posts in splits.items():
        text = format_tagged(posts, "cmner")
        if crlf_no_final_newline:
            text = text.rstrip("\r\n")
        (folder / f"{split}.txt").write_bytes(text.encode("utf-8"))
    if images_per_post:
        (folder / "images").mkdir(exist_ok=True)
        for number, (post_id, count) in enumerate(sorted(images_per_post.items())):
            for n in range(count):
                write_image(folder / "images" / f"{post_id}_{n}.jpg", number * 10 + n)
    return folder


def tiny_bert(folder: Path, posts: list, *, max_positions: int = 260) -> Path:
    """A 2-layer, 32-d BERT with a character vocabulary (lower-case Latin only, like bert-base-chinese)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    chars = sorted({ch.lower() if ch.isascii() else ch for _, tokens, _ in posts for token in tokens for ch in token})
    vocab = {token: index for index, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=max_positions)
    BertModel(config).save_pretrained(folder)
    return folder


def tiny_resnet(folder: Path) -> Path:
    """A random 2-stage ResNet (16 channels out) with a 64-px ConvNext-style image processor."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetModel

    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetModel(config).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 64}, crop_pct=0.875).save_pretrained(folder)
    return folder
