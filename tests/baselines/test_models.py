"""ACN and UMT pieces: the attention forms, images missing, embeddings, tokenization, W_tr."""

from __future__ import annotations

import pytest
import torch

from cmner_build.baselines.acn import ACN, ACNConfig, Attention, build_vocabs, collate, encode_post, load_vectors, pretrained_matrix
from cmner_build.baselines.data import Post
from cmner_build.baselines.umt import UMT, UMTConfig, conversion_matrix, encode_post as umt_encode, load_bert, lower_latin
from cmner_build.baselines.umt import collate as umt_collate
from cmner_build.errors import CmnerError
from cmner_build.model import BIO_TAGS

from tests.baselines_helpers import make_posts, tiny_bert


def _softmax_rows(attention: Attention, queries, keys):
    return torch.softmax(attention(queries, keys), dim=-1)


def test_concat_attention_is_query_independent_and_additive_is_not():
    torch.manual_seed(0)
    queries, keys = torch.randn(1, 5, 6), torch.randn(1, 7, 4)
    concat = _softmax_rows(Attention(6, 4, 8, "concat"), queries, keys)[0]
    additive = _softmax_rows(Attention(6, 4, 8, "additive"), queries, keys)[0]
    assert torch.allclose(concat, concat[0].expand_as(concat), atol=1e-6)  # every word the same weights
    assert (additive - additive[0]).abs().max() > 1e-3


def test_concat_form_equals_the_reference_linear_over_the_concatenation():
    torch.manual_seed(1)
    attention = Attention(3, 3, 4, "concat")
    queries, keys = torch.randn(2, 5, 3), torch.randn(2, 6, 3)
    q = torch.tanh(attention.query(queries)).unsqueeze(2).expand(-1, -1, 6, -1)
    k = torch.tanh(attention.key(keys)).unsqueeze(1).expand(-1, 5, -1, -1)
    reference = attention.score(torch.cat([q, k], dim=-1)).squeeze(-1)
    assert torch.allclose(attention(queries, keys), reference, atol=1e-6)


def _acn_batch(posts, vocabs, grids):
    items = [encode_post(post, vocabs, i) for i, post in enumerate(posts)]
    return collate(items, torch.device("cpu"), grids, [True, False])


def test_acn_post_without_image_ignores_its_zero_grid():
    posts = [Post(pid, tokens, tags) for pid, tokens, tags in make_posts(2, 3)]
    vocabs = build_vocabs(posts, bigrams=True)
    config = ACNConfig(vocab_size=len(vocabs.tokens), char_vocab_size=len(vocabs.chars),
                       bigram_vocab_size=len(vocabs.bigrams), embedding_dim=8, bigram_dim=4, hidden=8,
                       attention_dim=6, feature_dim=5)
    model = ACN(config).eval()
    grids = torch.randn(2, 49, 5)
    first = model.emissions(_acn_batch(posts, vocabs, grids))
    grids[1] = 100.0  # the post without an image: its grid must not matter
    grids[0] = 0.5
    second = model.emissions(_acn_batch(posts, vocabs, grids))
    length = len(posts[1].tokens)
    assert torch.isfinite(first).all()
    assert torch.allclose(first[1, :length], second[1, :length], atol=1e-6)
    assert not torch.allclose(first[0], second[0])
    assert model.loss(_acn_batch(posts, vocabs, grids)).item() > 0


def test_pretrained_vectors_are_loaded_by_normalised_token(tmp_path):
    path = tmp_path / "vectors.vec"
    path.write_text("3 2\n北 0.5 1.5\nA 2 3\n7 9 9\n", encoding="utf-8")
    dim, vectors = load_vectors(path)
    assert dim == 2 and vectors == {"北": [0.5, 1.5], "a": [2.0, 3.0], "0": [9.0, 9.0]}
    posts = [Post("p", list("北京"), ["B-LOC", "I-LOC"])]
    vocabs = build_vocabs(posts, bigrams=False, extra_tokens={"a"})
    matrix = pretrained_matrix(vocabs.tokens, dim, vectors)
    model = ACN(ACNConfig(vocab_size=len(vocabs.tokens), char_vocab_size=len(vocabs.chars), embedding_dim=2,
                          hidden=4, freeze_embeddings=True), matrix)
    assert model.embedding.weight[vocabs.tokens.index["北"]].tolist() == [0.5, 1.5]
    assert model.embedding.weight[vocabs.tokens.index["a"]].tolist() == [2.0, 3.0]
    assert not model.embedding.weight.requires_grad
    bad = tmp_path / "bad.vec"
    bad.write_text("北 1 2\n京 1\n", encoding="utf-8")
    with pytest.raises(CmnerError, match="bad.vec:2"):
        load_vectors(bad)


def test_conversion_matrix_spreads_b_and_i_over_the_four_types():
    matrix = conversion_matrix()
    assert matrix.shape == (3, len(BIO_TAGS))
    assert matrix[0].tolist() == [1.0] + [0.0] * 8
    assert [BIO_TAGS[i] for i in matrix[1].nonzero().flatten().tolist()] == ["B-PER", "B-LOC", "B-ORG", "B-MISC"]
    assert matrix[2].sum().item() == 1.0 and matrix[1].sum().item() == 1.0


def test_lower_latin_only_touches_latin_capitals():
    assert lower_latin("iPhone手机ÀΩ") == "iphone手机àΩ"


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    return str(tiny_bert(folder, make_posts(30, 0) + [("x", list("一二三四五"), ["O"] * 5)]))


def test_umt_encoding_keeps_all_250_characters_and_fixes_upper_case(bert_dir):
    tokenizer, bert = load_bert(bert_dir)
    text = (list("Tom在北京") + list("一二三四五") * 49)[:250]
    post = Post("long", text, ["B-PER", "I-PER", "I-PER"] + ["O"] * 247)
    item = umt_encode(post, tokenizer, lowercase=True, index=0, max_positions=260)
    assert item["length"] == 250 and len(item["input_ids"]) == 252
    assert item["first_subtoken"].tolist() == list(range(1, 251))
    assert tokenizer.unk_token_id not in item["input_ids"].tolist()
    kept = umt_encode(post, tokenizer, lowercase=False, index=0, max_positions=260)
    assert kept["input_ids"][1] == tokenizer.unk_token_id  # 'T' is not in a lower-case vocabulary
    assert item["aux_tags"].tolist()[:4] == [1, 2, 2, 0]
    with pytest.raises(CmnerError, match="nothing is truncated"):
        umt_encode(post, tokenizer, lowercase=True, index=0, max_positions=200)


def test_umt_runs_with_images_and_a_post_without_one(bert_dir):
    from cmner_build.baselines.acn import add_grids

    torch.manual_seed(0)
    tokenizer, bert = load_bert(bert_dir)
    model = UMT(UMTConfig(bert=bert_dir, feature_dim=6), bert).eval()
    posts = [Post(pid, tokens, tags) for pid, tokens, tags in make_posts(2, 4)]
    items = [umt_encode(post, tokenizer, lowercase=True, index=i, max_positions=260) for i, post in enumerate(posts)]

    def batch_with(grids):
        batch = umt_collate(items, torch.device("cpu"), tokenizer.pad_token_id)
        add_grids(batch, items, grids, [True, False], torch.device("cpu"))
        return batch

    grids = torch.randn(2, 49, 6)
    first, aux = model.emissions(batch_with(grids))
    grids[1] = 50.0
    grids[0] = -1.0
    second, _ = model.emissions(batch_with(grids))
    n = len(posts[1].tokens)
    assert first.shape == (2, max(len(p.tokens) for p in posts), 9) and aux.shape[-1] == 3
    assert torch.isfinite(first).all()
    assert torch.allclose(first[1, :n], second[1, :n], atol=1e-5)
    assert not torch.allclose(first[0], second[0])
    assert torch.isfinite(model.loss(batch_with(grids)))


def test_bilstm_without_packing_equals_a_packed_bidirectional_lstm():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from cmner_build.baselines.acn import BiLSTM

    torch.manual_seed(0)
    ours = BiLSTM(5, 4)
    reference = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(reference, name).copy_(getattr(ours.forward_lstm, name))
            getattr(reference, name + "_reverse").copy_(getattr(ours.backward_lstm, name))
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(3, 6, 5)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=6)
    got = ours(x, lengths)
    for row, n in enumerate(lengths.tolist()):
        assert torch.allclose(got[row, :n], expected[row, :n], atol=1e-6)
