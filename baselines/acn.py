"""ACN: the adaptive co-attention network (Zhang et al., AAAI 2018), for characters or words.

token embedding (+ optional left/right bigram embeddings) + character CNN -> BiLSTM -> h
image grid (49 regions) -> tanh(Linear) -> V
word-guided visual attention:   v̂_t = sum_r softmax_r(score(h_t, V_r)) V_r
image-guided textual attention: ĥ_t = sum_j softmax_j(score(v̂_t, h_j)) h_j      (padding masked)
gated fusion:  m_t = g h_v + (1 - g) h_w,  h_v = tanh(W v̂_t), h_w = tanh(W ĥ_t), g = sigmoid(W [h_v; h_w])
filtration:    u_t = s_t tanh(W m_t), s_t = sigmoid(W [W h_t ; W m_t])
emissions = Linear([h_t ; u_t]) -> CRF

score(q, k) = w·tanh(W_q q + W_k k), the additive form. `attention="concat"` is the reference code's
w·[tanh(W_q q); tanh(W_k k)] = f(q) + g(k), whose query term cancels in the softmax (every word gets the
same attention); it is kept only to reproduce published numbers. W_q q and W_k k are computed before
they are broadcast against each other, so memory is B·T·R·k, not the reference's repeated inputs.

Text-only ACN (no grids) is the CNN-BiLSTM-CRF core: the attention, fusion and filtration need an image.
A post without an image in a multimodal run has all regions masked: v̂ = 0 and its u_t is zeroed, so it
goes through the text path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from cmner_build.errors import CmnerError
from cmner_build.model import BIO_TAGS

from cmner_build.baselines.crf import CRF
from cmner_build.baselines.vocab import TAG_TO_ID, Vocab, bigrams_of, encode_tags, normalize_token

ATTENTION_FORMS = ("additive", "concat")


@dataclass
class ACNConfig:
    vocab_size: int
    char_vocab_size: int
    bigram_vocab_size: int = 0  # 0: no bigram embeddings
    embedding_dim: int = 100
    bigram_dim: int = 100
    char_dim: int = 30
    char_filters: int = 32
    char_out: int = 50
    hidden: int = 200  # per direction
    attention_dim: int = 200
    feature_dim: int = 0  # 0: text-only
    dropout: float = 0.5
    char_dropout: float = 0.25
    attention: str = "additive"
    num_tags: int = len(TAG_TO_ID)
    freeze_embeddings: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class CharCNN(nn.Module):
    """Three parallel convolutions (k = 2, 3, 4) over a token's characters, max-pooled, then an MLP."""

    def __init__(self, config: ACNConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.char_vocab_size, config.char_dim, padding_idx=0)
        nn.init.uniform_(self.embedding.weight, -0.25, 0.25)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.char_dim, config.char_filters, k, padding=k // 2) for k in (2, 3, 4)
        )
        self.dropout = nn.Dropout(config.char_dropout)
        self.mlp = nn.Sequential(
            nn.Linear(3 * config.char_filters, 100), nn.ReLU(), nn.Dropout(config.char_dropout), nn.Linear(100, config.char_out)
        )

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, length, width = chars.shape
        embedded = self.embedding(chars.view(batch * length, width)).transpose(1, 2)  # (BT, c, W)
        pooled = [self.dropout(torch.tanh(conv(embedded)).max(dim=2).values) for conv in self.convs]
        return self.mlp(torch.cat(pooled, dim=1)).view(batch, length, -1)


class BiLSTM(nn.Module):
    """A bidirectional LSTM over right-padded sequences, exact at every real position, without packing.

    The backward direction runs on each sequence reversed within its own length, so padding never flows
    into real positions. On CPU this is about 4x faster than `pack_padded_sequence` (measured: 44 vs
    194 ms for a 16 x 120 batch), and batches are length-bucketed so little padding is computed.
    """

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        index = reversed_index(lengths.to(x.device), x.size(1))  # (B, T)
        gather = index.unsqueeze(2)
        backward_input = x.gather(1, gather.expand(-1, -1, x.size(2)))
        backward_output = self.backward_lstm(backward_input)[0]
        backward_output = backward_output.gather(1, gather.expand(-1, -1, backward_output.size(2)))
        return torch.cat([self.forward_lstm(x)[0], backward_output], dim=-1)


def reversed_index(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """index[b, t] = lengths[b] - 1 - t inside the sequence, t in the padding (a permutation per row)."""
    positions = torch.arange(total, device=lengths.device).unsqueeze(0)
    return torch.where(positions < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - positions, positions)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where mask is True; a row with nothing unmasked gives zeros, not NaN."""
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) * mask


class Attention(nn.Module):
    """score(q_i, k_j) for all i, j: additive w·tanh(W_q q + W_k k), or the reference's concat form."""

    def __init__(self, query_dim: int, key_dim: int, dim: int, form: str) -> None:
        super().__init__()
        if form not in ATTENTION_FORMS:
            raise ValueError(f"unknown attention form {form!r}")
        self.form = form
        self.query = nn.Linear(query_dim, dim)
        self.key = nn.Linear(key_dim, dim, bias=False)
        self.score = nn.Linear(dim, 1, bias=False) if form == "additive" else nn.Linear(2 * dim, 1, bias=False)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q = self.query(queries)  # (B, Lq, d)
        k = self.key(keys)  # (B, Lk, d)
        if self.form == "additive":
            return self.score(torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))).squeeze(-1)  # (B, Lq, Lk)
        # Linear([tanh(q); tanh(k)]) split into its two halves: identical to the reference, without the
        # (B, Lq, Lk, 2d) concatenation.
        w_q, w_k = self.score.weight[0].chunk(2)
        return (torch.tanh(q) @ w_q).unsqueeze(2) + (torch.tanh(k) @ w_k).unsqueeze(1)


class ACN(nn.Module):
    def __init__(self, config: ACNConfig, pretrained: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        nn.init.uniform_(self.embedding.weight, -0.25, 0.25)
        if pretrained is not None:
            with torch.no_grad():
                rows = ~torch.isnan(pretrained[:, 0])
                self.embedding.weight[rows] = pretrained[rows]
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        input_dim = config.embedding_dim + config.char_out
        self.bigram_embedding = None
        if config.bigram_vocab_size:
            self.bigram_embedding = nn.Embedding(config.bigram_vocab_size, config.bigram_dim, padding_idx=0)
            nn.init.uniform_(self.bigram_embedding.weight, -0.25, 0.25)
            input_dim += 2 * config.bigram_dim
        self.char_cnn = CharCNN(config)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = BiLSTM(input_dim, config.hidden)
        text_dim = 2 * config.hidden
        k = config.attention_dim
        self.multimodal = config.feature_dim > 0
        if self.multimodal:
            self.dim_match = nn.Linear(config.feature_dim, k)
            self.visual_attention = Attention(text_dim, k, k, config.attention)
            self.textual_attention = Attention(k, text_dim, k, config.attention)
            self.fusion_visual = nn.Linear(k, k)
            self.fusion_textual = nn.Linear(text_dim, k)
            self.fusion_gate = nn.Linear(2 * k, 1)
            self.filter_text = nn.Linear(text_dim, k, bias=False)
            self.filter_fused = nn.Linear(k, k)
            self.filter_gate = nn.Linear(2 * k, 1)
            self.filter_value = nn.Linear(k, k)
            self.output = nn.Linear(text_dim + k, config.num_tags)
        else:
            self.output = nn.Linear(text_dim, config.num_tags)
        self.crf = CRF(config.num_tags, BIO_TAGS)

    def emissions(self, batch: dict) -> torch.Tensor:
        parts = [self.embedding(batch["tokens"])]
        if self.bigram_embedding is not None:
            parts.append(self.bigram_embedding(batch["bigrams"]).flatten(2))
        parts.append(self.char_cnn(batch["chars"]))
        x = self.dropout(torch.cat(parts, dim=-1))
        h = self.dropout(self.lstm(x, batch["lengths"]))
        if not self.multimodal:
            return self.output(h)
        regions = torch.tanh(self.dim_match(batch["grids"]))  # (B, R, k)
        alpha = masked_softmax(self.visual_attention(h, regions), batch["region_mask"].unsqueeze(1))
        visual = alpha @ regions  # (B, T, k)
        beta = masked_softmax(self.textual_attention(visual, h), batch["mask"].unsqueeze(1))
        textual = beta @ h  # (B, T, 2H)
        h_v = torch.tanh(self.fusion_visual(visual))
        h_w = torch.tanh(self.fusion_textual(textual))
        gate = torch.sigmoid(self.fusion_gate(torch.cat([h_v, h_w], dim=-1)))
        fused = gate * h_v + (1 - gate) * h_w
        keep = torch.sigmoid(self.filter_gate(torch.cat([self.filter_text(h), self.filter_fused(fused)], dim=-1)))
        filtered = keep * torch.tanh(self.filter_value(fused)) * batch["has_image"].view(-1, 1, 1)
        return self.output(torch.cat([h, filtered], dim=-1))

    def loss(self, batch: dict) -> torch.Tensor:
        return self.crf.neg_log_likelihood(self.emissions(batch), batch["tags"], batch["mask"])

    def decode(self, batch: dict) -> list[list[int]]:
        return self.crf.decode(self.emissions(batch), batch["mask"])


# ----------------------------------------------------------------------------------------- data


@dataclass
class ACNVocabs:
    tokens: Vocab
    chars: Vocab
    bigrams: Vocab | None

    def to_dict(self) -> dict:
        return {
            "tokens": self.tokens.to_list(),
            "chars": self.chars.to_list(),
            "bigrams": self.bigrams.to_list() if self.bigrams is not None else None,
        }


def build_vocabs(train_posts: Sequence, *, bigrams: bool, extra_tokens: set[str] | None = None,
                 bigram_min_count: int = 2) -> ACNVocabs:
    """Vocabularies from the training posts; `extra_tokens` (tokens of other splits that have a
    pretrained vector) are added so those vectors are used at test time.

    Bigrams seen once in train are left out, so that [UNK] is trained on them: a fifth of the CMNER dev
    bigrams never occur in train, and with every train bigram in the vocabulary they would all meet an
    [UNK] vector that training never touched.
    """
    normalized = [[normalize_token(token) for token in post.tokens] for post in train_posts]
    tokens = Vocab.build(normalized)
    for token in sorted(extra_tokens or ()):
        tokens.add(token)
    chars = Vocab.build(list(token) for token in tokens.items[2:])
    bigram_vocab = None
    if bigrams:
        # Each occurrence once: the right bigram of every position plus the sentence-initial one.
        occurrences = ([pairs[0][0]] + [right for _, right in pairs] for pairs in map(bigrams_of, normalized) if pairs)
        bigram_vocab = Vocab.build(occurrences, min_count=bigram_min_count)
    return ACNVocabs(tokens, chars, bigram_vocab)


def load_vectors(path: Path, wanted: set[str] | None = None) -> tuple[int, dict[str, list[float]]]:
    """Read a word2vec / fastText text file (an optional 'count dim' first line, then 'token v1 v2 ...').

    Keys are normalised like the tokens (lower case, digits -> 0); the first vector of a key wins.
    """
    path = Path(path)
    vectors: dict[str, list[float]] = {}
    dim = 0
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except OSError as error:
        raise CmnerError(f"{path}: cannot read the embedding file: {error.strerror or error}") from None
    with handle:
        for line_number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n\r").rstrip(" ").split(" ")
            if line_number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) < 2:
                continue
            if not dim:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise CmnerError(f"{path}:{line_number}: {len(parts) - 1} values, expected {dim}")
            key = normalize_token(parts[0])
            if key in vectors or (wanted is not None and key not in wanted):
                continue
            try:
                vectors[key] = [float(value) for value in parts[1:]]
            except ValueError:
                raise CmnerError(f"{path}:{line_number}: a value is not a number") from None
    if not dim:
        raise CmnerError(f"{path}: no vectors found")
    return dim, vectors


def pretrained_matrix(vocab: Vocab, dim: int, vectors: dict[str, list[float]]) -> torch.Tensor:
    """(V, dim) with the pretrained rows filled and NaN rows for tokens without a vector."""
    matrix = torch.full((len(vocab), dim), float("nan"))
    for token, index in vocab.index.items():
        if token in vectors:
            matrix[index] = torch.tensor(vectors[token])
    return matrix


def encode_post(post, vocabs: ACNVocabs, index: int) -> dict:
    """Numpy arrays for one post (padding happens per batch in `collate`)."""
    normalized = [normalize_token(token) for token in post.tokens]
    char_ids = [vocabs.chars.encode(token) or [1] for token in normalized]
    chars = np.zeros((len(normalized), max(map(len, char_ids))), dtype=np.int64)
    for position, ids in enumerate(char_ids):
        chars[position, : len(ids)] = ids
    item = {
        "index": index,
        "length": len(normalized),
        "tokens": np.asarray(vocabs.tokens.encode(normalized), dtype=np.int64),
        "chars": chars,
        "tags": np.asarray(encode_tags(post.tags), dtype=np.int64),
    }
    if vocabs.bigrams is not None:
        item["bigrams"] = np.asarray([vocabs.bigrams.encode(pair) for pair in bigrams_of(normalized)], dtype=np.int64)
    return item


def collate(items: Sequence[dict], device, grids=None, has_image=None) -> dict:
    """Pad a list of encoded posts into tensors; `grids`/`has_image` are indexed by each item's index."""
    batch_size = len(items)
    length = max(item["length"] for item in items)
    width = max(item["chars"].shape[1] for item in items)
    tokens = np.zeros((batch_size, length), dtype=np.int64)
    tags = np.zeros((batch_size, length), dtype=np.int64)
    chars = np.zeros((batch_size, length, width), dtype=np.int64)
    with_bigrams = "bigrams" in items[0]
    bigrams = np.zeros((batch_size, length, 2), dtype=np.int64)
    for row, item in enumerate(items):
        n = item["length"]
        tokens[row, :n] = item["tokens"]
        tags[row, :n] = item["tags"]
        chars[row, :n, : item["chars"].shape[1]] = item["chars"]
        if with_bigrams:
            bigrams[row, :n] = item["bigrams"]
    lengths = torch.tensor([item["length"] for item in items])
    batch = {
        "tokens": torch.from_numpy(tokens).to(device),
        "tags": torch.from_numpy(tags).to(device),
        "chars": torch.from_numpy(chars).to(device),
        "bigrams": torch.from_numpy(bigrams).to(device) if with_bigrams else None,
        "lengths": lengths,
        "mask": (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).to(device),
    }
    if grids is not None:
        add_grids(batch, items, grids, has_image, device)
    return batch


def add_grids(batch: dict, items: Sequence[dict], grids, has_image, device) -> None:
    """The image part of a batch: each item's (49, D) grid, its region mask and an image flag."""
    indices = torch.tensor([item["index"] for item in items])
    flags = torch.tensor([has_image[i] for i in indices.tolist()], dtype=torch.bool)
    batch["grids"] = grids[indices].to(device=device, dtype=torch.float32)
    batch["region_mask"] = flags.view(-1, 1).expand(-1, grids.shape[1]).to(device)
    batch["has_image"] = flags.float().to(device)
