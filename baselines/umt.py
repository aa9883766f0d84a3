"""UMT (UMT-BERT-CRF, Yu et al., ACL 2020), one label per character (or word) out.

BERT -> C (first sub-token of each input token, so CMNER characters map 1:1 and Twitter words are not
split into extra CRF positions)
ESD branch:  T = self-attention layer(C) -> Linear -> auxiliary emissions over {O, B, I}, own CRF
MNER branch: C' = another self-attention layer(C)
  V, V' = two Linear projections of the 49 region vectors (a (49, D) grid per post, properly transposed)
  B = cross-attention(query C', key/value V)                          word-aware visual representation
  A = cross-attention(query C', key/value cross-attention(query V', key/value C'))  image-aware words
  g = sigmoid(Linear([A; B])),  H = [A; g ⊙ B],  main emissions = Linear(H)
unified emissions = alpha · main + (1 - alpha) · aux · W_tr   (W_tr fixed: O->O, B->B-* 1/4, I->I-* 1/4)
loss = NLL_CRF(unified) + lambda · NLL_auxCRF(aux), both averaged over posts; decode the unified CRF.

Each post gets its own image grid (the CMNER copy gave every post the same one) and posts are never
truncated: a post longer than the encoder's positions is an error, not silently cut (the reference cut at
128 sub-tokens and dropped the tail from the gold too). Upper-case Latin letters are lower-cased before
tokenizing by default, because bert-base-chinese has no upper-case entries and maps them to [UNK]
(`lowercase=False` reproduces the published behaviour).

Text-only UMT (no grids) is the same network without the visual branch: BERT + ESD + CRF.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from torch import nn

from cmner_build.errors import CmnerError
from cmner_build.model import BIO_TAGS

from cmner_build.baselines.acn import masked_softmax
from cmner_build.baselines.crf import CRF
from cmner_build.baselines.vocab import encode_tags

AUX_TAGS = ("O", "B", "I")


@dataclass
class UMTConfig:
    bert: str
    feature_dim: int = 0  # 0: text-only
    num_tags: int = len(BIO_TAGS)
    alpha: float = 0.5  # weight of the main emissions in the unified emissions
    esd_weight: float = 0.5  # lambda, weight of the auxiliary CRF loss
    lowercase: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def conversion_matrix() -> torch.Tensor:
    """W_tr (3, 9): O -> O, B -> each B-type 1/4, I -> each I-type 1/4 (fixed, not learned)."""
    matrix = torch.zeros(len(AUX_TAGS), len(BIO_TAGS))
    for column, tag in enumerate(BIO_TAGS):
        row = AUX_TAGS.index(tag[0])
        matrix[row, column] = 1.0 if tag == "O" else 0.25
    return matrix


class AttentionLayer(nn.Module):
    """A BERT-style layer whose queries come from one stream and keys/values from another:
    multi-head attention + residual + LayerNorm, then GELU FFN + residual + LayerNorm.
    With the same stream twice it is a self-attention layer."""

    def __init__(self, hidden: int, heads: int, intermediate: int, dropout: float, eps: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.ffn = nn.Sequential(nn.Linear(hidden, intermediate), nn.GELU(), nn.Linear(intermediate, hidden))
        self.norm2 = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        return x.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(context)), self._split(self.value(context))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
        # A fully masked context (a post without an image) attends to nothing: zeros, not NaN.
        probabilities = self.dropout(masked_softmax(scores, context_mask[:, None, None, :]))
        attended = (probabilities @ v).transpose(1, 2).reshape(x.shape)
        x = self.norm1(x + self.dropout(self.output(attended)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class UMT(nn.Module):
    def __init__(self, config: UMTConfig, bert: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.bert = bert
        bert_config = bert.config
        hidden = bert_config.hidden_size
        layer = dict(
            hidden=hidden, heads=bert_config.num_attention_heads, intermediate=bert_config.intermediate_size,
            dropout=bert_config.hidden_dropout_prob, eps=bert_config.layer_norm_eps,
        )
        self.dropout = nn.Dropout(bert_config.hidden_dropout_prob)
        self.esd_layer = AttentionLayer(**layer)
        self.aux_classifier = nn.Linear(hidden, len(AUX_TAGS))
        self.text_layer = AttentionLayer(**layer)
        self.multimodal = config.feature_dim > 0
        if self.multimodal:
            self.visual_projection = nn.Linear(config.feature_dim, hidden)  # V, for words -> regions
            self.visual_projection_v2 = nn.Linear(config.feature_dim, hidden)  # V', for regions -> words
            self.txt2img = AttentionLayer(**layer)
            self.img2txt = AttentionLayer(**layer)
            self.txt2txt = AttentionLayer(**layer)
            self.gate = nn.Linear(2 * hidden, hidden)
            self.classifier = nn.Linear(2 * hidden, config.num_tags)
        else:
            self.classifier = nn.Linear(hidden, config.num_tags)
        self.crf = CRF(config.num_tags, BIO_TAGS)
        self.aux_crf = CRF(len(AUX_TAGS), AUX_TAGS)
        self.register_buffer("conversion", conversion_matrix(), persistent=False)
        for name, module in self.named_modules():
            if not name.startswith("bert") and module is not self:
                _init_bert_style(module, bert_config.initializer_range)

    def emissions(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(unified emissions over the 9 tags, auxiliary emissions over O/B/I), both (B, T, ·)."""
        encoded = self.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        encoded = self.dropout(encoded)
        first = batch["first_subtoken"]
        words = encoded.gather(1, first.unsqueeze(2).expand(-1, -1, encoded.size(2)))  # (B, T, H)
        mask = batch["mask"]
        aux = self.aux_classifier(self.esd_layer(words, words, mask))
        text = self.text_layer(words, words, mask)
        if self.multimodal:
            region_mask = batch["region_mask"]
            visual = self.txt2img(text, self.visual_projection(batch["grids"]), region_mask)
            image_aware = self.img2txt(self.visual_projection_v2(batch["grids"]), text, mask)
            textual = self.txt2txt(text, image_aware, region_mask)
            gate = torch.sigmoid(self.gate(torch.cat([textual, visual], dim=-1)))
            gated_visual = gate * visual * batch["has_image"].view(-1, 1, 1).to(visual.dtype)
            hidden = torch.cat([textual, gated_visual], dim=-1)
        else:
            hidden = text
        main = self.classifier(hidden)
        unified = self.config.alpha * main.float() + (1 - self.config.alpha) * (aux.float() @ self.conversion)
        return unified, aux

    def loss(self, batch: dict) -> torch.Tensor:
        unified, aux = self.emissions(batch)
        main_loss = self.crf.neg_log_likelihood(unified, batch["tags"], batch["mask"])
        aux_loss = self.aux_crf.neg_log_likelihood(aux, batch["aux_tags"], batch["mask"])
        return main_loss + self.config.esd_weight * aux_loss

    def decode(self, batch: dict) -> list[list[int]]:
        return self.crf.decode(self.emissions(batch)[0], batch["mask"])


def _init_bert_style(module: nn.Module, std: float) -> None:
    """BERT's initialisation for the new layers: N(0, std) weights, zero biases, LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def load_bert(name_or_path: str, *, weights: bool = True):
    """(tokenizer, model) from a hub name or a local folder (config, vocabulary / tokenizer.json, weights).
    weights=False builds the model from its configuration only (a saved run's state replaces them)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        if weights:
            # fp32 master weights whatever the checkpoint's dtype: bf16 happens in autocast, never in the weights.
            model = AutoModel.from_pretrained(name_or_path, dtype=torch.float32)
        else:
            model = AutoModel.from_config(AutoConfig.from_pretrained(name_or_path), dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise CmnerError(
            f"cannot load the BERT model {name_or_path!r}: {str(error).splitlines()[0]} "
            "(give a local folder saved with save_pretrained when the hub cannot be reached)"
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise CmnerError(f"{name_or_path}: a fast tokenizer (tokenizer.json or vocab.txt) is needed to align tokens")
    return tokenizer, model


@lru_cache(maxsize=4096)
def _is_latin_capital(char: str) -> bool:
    return char.isupper() and unicodedata.name(char, "").startswith("LATIN CAPITAL")


def lower_latin(token: str) -> str:
    """Lower-case upper-case Latin letters only (other scripts are left alone)."""
    return "".join(char.lower() if _is_latin_capital(char) else char for char in token)


def encode_post(post, tokenizer, *, lowercase: bool, index: int, max_positions: int) -> dict:
    """Sub-token ids of a post and the position of each input token's first sub-token."""
    tokens = [lower_latin(token) for token in post.tokens] if lowercase else list(post.tokens)
    encoding = tokenizer(tokens, is_split_into_words=True, add_special_tokens=True)
    first = _first_subtokens(encoding.word_ids(), len(tokens))
    if first is None:
        # A token the tokenizer drops entirely (e.g. a control character) becomes [UNK], keeping 1:1.
        kept = set(w for w in encoding.word_ids() if w is not None)
        tokens = [token if i in kept else tokenizer.unk_token for i, token in enumerate(tokens)]
        encoding = tokenizer(tokens, is_split_into_words=True, add_special_tokens=True)
        first = _first_subtokens(encoding.word_ids(), len(tokens))
    ids = encoding["input_ids"]
    if len(ids) > max_positions:
        raise CmnerError(
            f"post {post.post_id}: {len(ids)} sub-tokens, more than the {max_positions} positions of the encoder; "
            "nothing is truncated, so use an encoder with more positions or shorten the post"
        )
    aux = [AUX_TAGS.index(tag[0]) for tag in post.tags]
    return {
        "index": index,
        "length": len(tokens),
        "input_ids": np.asarray(ids, dtype=np.int64),
        "first_subtoken": np.asarray(first, dtype=np.int64),
        "tags": np.asarray(encode_tags(post.tags), dtype=np.int64),
        "aux_tags": np.asarray(aux, dtype=np.int64),
    }


def _first_subtokens(word_ids: Sequence[int | None], count: int) -> list[int] | None:
    first: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in first:
            first[word] = position
    if len(first) != count:
        return None
    return [first[i] for i in range(count)]


def collate(items: Sequence[dict], device, pad_id: int) -> dict:
    batch_size = len(items)
    length = max(item["length"] for item in items)
    sub_length = max(len(item["input_ids"]) for item in items)
    input_ids = np.full((batch_size, sub_length), pad_id, dtype=np.int64)
    attention = np.zeros((batch_size, sub_length), dtype=np.int64)
    first = np.zeros((batch_size, length), dtype=np.int64)
    tags = np.zeros((batch_size, length), dtype=np.int64)
    aux = np.zeros((batch_size, length), dtype=np.int64)
    for row, item in enumerate(items):
        n, s = item["length"], len(item["input_ids"])
        input_ids[row, :s] = item["input_ids"]
        attention[row, :s] = 1
        first[row, :n] = item["first_subtoken"]
        tags[row, :n] = item["tags"]
        aux[row, :n] = item["aux_tags"]
    lengths = torch.tensor([item["length"] for item in items])
    return {
        "input_ids": torch.from_numpy(input_ids).to(device),
        "attention_mask": torch.from_numpy(attention).to(device),
        "first_subtoken": torch.from_numpy(first).to(device),
        "tags": torch.from_numpy(tags).to(device),
        "aux_tags": torch.from_numpy(aux).to(device),
        "lengths": lengths,
        "mask": (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).to(device),
    }


def make_optimizer(model: nn.Module, total_steps: int, lr: float, warmup: float = 0.1, weight_decay: float = 0.01):
    """AdamW, no decay on biases and LayerNorm, linear warm-up then linear decay over the true step count."""
    from transformers import get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "norm" in name.lower() else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, eps=1e-6
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup * total_steps), total_steps)
    return optimizer, scheduler
