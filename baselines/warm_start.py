"""Start a run from a saved run's weights (`--init-from RUN`), and freeze BERT's bottom layers.

The saved run and the new one need not share a vocabulary or a label set: the cross-lingual regime
pre-trains on English words and fine-tunes on Chinese characters. So nothing is assumed equal:

* vocabularies are merged: the new run's vocabulary is the saved one followed by the items only the new
  training data brings (`merge_items`); the rows of shared items are copied, new rows keep their fresh
  initialisation (random, or a pretrained vector from `--embeddings`);
* labels are matched by name: rows of the output layer and of the CRF (start, end and both axes of the
  transition matrix) are copied for the tags both runs have, a tag only the new run has starts fresh;
* for UMT the BERT word embeddings are matched through the two tokenizers' vocabularies the same way;
* every other tensor is copied when the saved run has it; a tensor the saved run lacks (the image
  layers when the saved run was text-only) starts fresh, and one with another shape is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from cmner_build.errors import CmnerError


@dataclass
class TransferReport:
    copied: int = 0  # tensors copied whole
    merged: int = 0  # tensors copied row by row through a vocabulary or label map
    fresh: list[str] = field(default_factory=list)  # tensors the saved run does not have
    shared_rows: dict[str, str] = field(default_factory=dict)  # tensor -> "shared / total" rows

    def to_dict(self) -> dict:
        return {"copied": self.copied, "merged": self.merged, "fresh": self.fresh, "shared_rows": self.shared_rows}


def merge_items(saved: Sequence[str], new: Sequence[str]) -> list[str]:
    """The saved items in their order (so their rows keep their ids), then the new items not among them."""
    seen = set(saved)
    return [*saved, *(item for item in new if item not in seen)]


def transfer_state(source_state: dict, target, axes: dict[str, Sequence[tuple[Sequence[str], Sequence[str]] | None]]
                   ) -> TransferReport:
    """Copy `source_state` into the module `target`.

    `axes[name]` gives, per dimension of that tensor, (source items, target items) to match by name, or None
    for a dimension that must have the same size; tensors not in `axes` are copied whole.
    """
    import torch

    report = TransferReport()
    state = target.state_dict()
    for name, tensor in state.items():
        if name not in source_state:
            report.fresh.append(name)
            continue
        source = source_state[name].to(dtype=tensor.dtype)
        maps = axes.get(name)
        if maps is None:
            if source.shape != tensor.shape:
                raise CmnerError(f"--init-from: {name} has shape {tuple(source.shape)} in the saved run and "
                                 f"{tuple(tensor.shape)} here; the two models differ in size")
            tensor.copy_(source)
            report.copied += 1
            continue
        source_index: list[torch.Tensor] = []
        target_index: list[torch.Tensor] = []
        for dim, pair in enumerate(maps):
            if pair is None:
                if source.shape[dim] != tensor.shape[dim]:
                    break  # e.g. the output layer of a text-only run under an image run: starts fresh
                both = torch.arange(tensor.shape[dim])
                source_index.append(both)
                target_index.append(both)
                continue
            saved_items, new_items = pair
            if len(saved_items) != source.shape[dim] or len(new_items) != tensor.shape[dim]:
                raise CmnerError(f"--init-from: {name} does not match its vocabulary or label list")
            position = {item: i for i, item in enumerate(saved_items)}
            pairs = [(position[item], j) for j, item in enumerate(new_items) if item in position]
            source_index.append(torch.tensor([i for i, _ in pairs], dtype=torch.long))
            target_index.append(torch.tensor([j for _, j in pairs], dtype=torch.long))
            if dim == 0:
                report.shared_rows[name] = f"{len(pairs)} / {len(new_items)}"
        else:
            tensor[torch.meshgrid(*target_index, indexing="ij")] = source[torch.meshgrid(*source_index, indexing="ij")]
            report.merged += 1
            continue
        report.fresh.append(name)
        report.shared_rows.pop(name, None)
    target.load_state_dict(state)
    return report


def label_axes(prefix: str, saved_tags: Sequence[str], tags: Sequence[str], output: str) -> dict:
    """The label-indexed tensors of a CRF named `prefix` and of the output Linear `output`."""
    pair = (list(saved_tags), list(tags))
    return {
        f"{output}.weight": (pair, None), f"{output}.bias": (pair,),
        f"{prefix}.start_transitions": (pair,), f"{prefix}.end_transitions": (pair,),
        f"{prefix}.transitions": (pair, pair),
    }


def freeze_bert_layers(bert, layers: int) -> int:
    """Freeze BERT's embeddings and its bottom `layers` encoder layers (the CMNER authors froze 3); returns
    the number of frozen parameters."""
    if layers <= 0:
        return 0
    encoder_layers = bert.encoder.layer
    if layers > len(encoder_layers):
        raise CmnerError(f"--freeze-layers {layers}: this BERT has only {len(encoder_layers)} layers")
    frozen = 0
    for module in [bert.embeddings, *encoder_layers[:layers]]:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def merge_acn_vocabs(saved: dict, new):
    """ACN vocabularies of a run started from `saved` (a vocab.json): saved items first, then new ones."""
    from cmner_build.baselines.acn import ACNVocabs
    from cmner_build.baselines.vocab import Vocab

    def merged(key: str, fresh) -> Vocab | None:
        if fresh is None:
            return None
        if saved.get(key) is None:
            return fresh
        return Vocab.from_list(merge_items(saved[key], fresh.to_list()))

    return ACNVocabs(merged("tokens", new.tokens), merged("chars", new.chars), merged("bigrams", new.bigrams))


def acn_axes(saved_vocab: dict, vocab: dict, saved_tags: Sequence[str], tags: Sequence[str]) -> dict:
    axes = label_axes("crf", saved_tags, tags, "output")
    for key, name in (("tokens", "embedding.weight"), ("chars", "char_cnn.embedding.weight"),
                      ("bigrams", "bigram_embedding.weight")):
        if saved_vocab.get(key) is not None and vocab.get(key) is not None:
            axes[name] = ((saved_vocab[key], vocab[key]), None)
    return axes


def umt_axes(saved_bert: str, bert: str, saved_tags: Sequence[str], tags: Sequence[str]) -> dict:
    """Label axes, and the word embeddings matched through both tokenizers when the BERTs differ."""
    axes = label_axes("crf", saved_tags, tags, "classifier")
    if saved_bert != bert:
        axes["bert.embeddings.word_embeddings.weight"] = ((_tokenizer_items(saved_bert), _tokenizer_items(bert)), None)
    return axes


def _tokenizer_items(name_or_path: str) -> list[str]:
    """The tokenizer's vocabulary by id, padded to the embedding rows with unmatched names."""
    from transformers import AutoConfig, AutoTokenizer

    by_id = {index: token for token, index in AutoTokenizer.from_pretrained(name_or_path).get_vocab().items()}
    rows = int(AutoConfig.from_pretrained(name_or_path).vocab_size)
    return [by_id.get(index, f"\0row {index}") for index in range(rows)]
