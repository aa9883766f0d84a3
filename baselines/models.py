"""Build ACN or UMT from a run's model configuration: one path for training and for loading a saved run.

`build_model(model, model_config, vocab)` returns a `ModelKit`: the network plus how to encode a post
and pad encoded posts into a batch. Training builds it from fresh vocabularies (and pretrained weights);
`baselines.inference.load_run` builds it from `config.json` / `vocab.json` and then loads the best
epoch's state, so a saved run is rebuilt by exactly the code that trained it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

from cmner_build.errors import CmnerError

# Posts per forward pass when decoding. Training's dev/test evaluation and `inference.predict_posts`
# batch the same posts the same way, so a saved run's predictions reproduce its evaluation exactly.
EVAL_BATCH_SIZE = {"acn": 64, "umt": 32}


@dataclass
class ModelKit:
    model: object  # torch.nn.Module with loss(batch), decode(batch) and emissions(batch)
    encode: Callable[[object, int], dict]  # (post, index) -> encoded post; index selects its image grid
    collate: Callable[..., dict]  # (encoded posts, device, grids=None, has_image=None) -> batch
    model_config: dict  # what config.json records under "model_config"
    vocab: dict | None = None  # ACN: what vocab.json holds
    unk_token_id: int | None = None  # UMT: the tokenizer's [UNK], counted by training


def _dataclass_kwargs(cls, values: dict) -> dict:
    names = {field.name for field in fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def build_model(model: str, model_config: dict, vocab: dict | None = None, *, pretrained=None,
                bert_weights: bool = True) -> ModelKit:
    """ACN (needs `vocab`, the vocab.json layout; `pretrained`: an optional (V, dim) matrix, NaN rows
    left random) or UMT (`bert_weights=False` builds BERT from its configuration only, for a saved run
    whose state replaces every weight anyway)."""
    if model == "acn":
        return _acn_kit(model_config, vocab, pretrained)
    if model == "umt":
        return _umt_kit(model_config, bert_weights)
    raise CmnerError(f"unknown model {model!r}; choose acn or umt")


def _acn_kit(model_config: dict, vocab: dict | None, pretrained) -> ModelKit:
    from cmner_build.baselines.acn import ACN, ACNConfig, ACNVocabs, collate, encode_post
    from cmner_build.baselines.vocab import Vocab

    if vocab is None:
        raise CmnerError("an ACN model needs its vocabulary (vocab.json)")
    vocabs = ACNVocabs(
        Vocab.from_list(vocab["tokens"]), Vocab.from_list(vocab["chars"]),
        Vocab.from_list(vocab["bigrams"]) if vocab.get("bigrams") is not None else None,
    )
    config = ACNConfig(**_dataclass_kwargs(ACNConfig, model_config))
    sizes = {"tokens": (len(vocabs.tokens), config.vocab_size), "chars": (len(vocabs.chars), config.char_vocab_size),
             "bigrams": (len(vocabs.bigrams) if vocabs.bigrams is not None else 0, config.bigram_vocab_size)}
    for name, (found, expected) in sizes.items():
        if found != expected:
            raise CmnerError(f"the vocabulary has {found} {name}, the model configuration {expected}")
    return ModelKit(
        model=ACN(config, pretrained),
        encode=lambda post, index: encode_post(post, vocabs, index),
        collate=lambda items, device, grids=None, has_image=None: collate(items, device, grids, has_image),
        model_config=config.to_dict(),
        vocab=vocabs.to_dict(),
    )


def _umt_kit(model_config: dict, bert_weights: bool) -> ModelKit:
    from cmner_build.baselines.acn import add_grids
    from cmner_build.baselines.umt import UMT, UMTConfig, collate, encode_post, load_bert

    config = UMTConfig(**_dataclass_kwargs(UMTConfig, model_config))
    tokenizer, bert = load_bert(config.bert, weights=bert_weights)
    max_positions = int(getattr(bert.config, "max_position_embeddings", 512))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def collate_with_grids(items: Sequence[dict], device, grids=None, has_image=None) -> dict:
        batch = collate(items, device, pad_id)
        if grids is not None:
            add_grids(batch, items, grids, has_image, device)
        return batch

    return ModelKit(
        model=UMT(config, bert),
        encode=lambda post, index: encode_post(post, tokenizer, lowercase=config.lowercase, index=index,
                                               max_positions=max_positions),
        collate=collate_with_grids,
        model_config=config.to_dict() | {"max_positions": max_positions,
                                         "bert_layers": bert.config.num_hidden_layers,
                                         "bert_hidden": bert.config.hidden_size},
        unk_token_id=tokenizer.unk_token_id,
    )
