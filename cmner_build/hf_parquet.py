"""Parquet files that Hugging Face `datasets` loads as a ready multimodal NER dataset.

`ner_tags` is a `ClassLabel` sequence over the BIO tags; `images` is a sequence of `Image` features,
each stored the way `datasets` stores one (a struct of the file's bytes and its release name), so a
Parquet file is complete on its own; with `images="paths"` it holds the relative paths
(`images/<name>`) instead, next to the copied image folder. The feature types travel in the schema's
`huggingface` metadata, which `datasets` reads (no `datasets` import is needed to write them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .model import BIO_TAGS
from .safety import UnsafeInputError, atomic_write_bytes, path_inside, regular_file

PARQUET_IMAGE_MODES: tuple[str, ...] = ("embed", "paths")


def hf_features(images: str) -> dict[str, Any]:
    """The `datasets` feature description of an exported record (also what the dataset card lists)."""
    if images not in PARQUET_IMAGE_MODES:
        raise ValueError(f"unknown image mode {images!r}")
    string_list = {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    return {
        "id": {"dtype": "string", "_type": "Value"},
        "tokens": string_list,
        "ner_tags": {"feature": {"names": list(BIO_TAGS), "_type": "ClassLabel"}, "_type": "Sequence"},
        "images": {"feature": {"_type": "Image"}, "_type": "Sequence"} if images == "embed" else string_list,
        "topic": {"dtype": "string", "_type": "Value"},
    }


def write_parquet(path: Path, records: Sequence[dict], *, images: str = "embed",
                  images_dir: Path | None = None) -> list[str]:
    """Write records ({"id", "tokens", "ner_tags", "images": ["images/<name>", ...], "topic"}) to path.

    With images="embed" each image's bytes are read from images_dir (file name = the part after
    `images/`); images missing there are left out of the record and returned by name.
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    features = hf_features(images)
    image_type: pa.DataType = pa.string()
    missing: list[str] = []
    rows = records
    if images == "embed":
        image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        rows = []
        for record in records:
            embedded = []
            for relative in record["images"]:
                name = Path(relative).name
                try:  # a name that would leave the folder, a link or a missing file is reported, never read
                    if images_dir is None:
                        raise UnsafeInputError("no image folder")
                    source = regular_file(path_inside(images_dir, name))
                except UnsafeInputError:
                    missing.append(name)
                    continue
                embedded.append({"bytes": source.read_bytes(), "path": name})
            rows.append({**record, "images": embedded})
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("tokens", pa.list_(pa.string())),
            ("ner_tags", pa.list_(pa.int64())),
            ("images", pa.list_(image_type)),
            ("topic", pa.string()),
        ],
        metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode("utf-8")},
    )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(list(rows), schema=schema), buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return missing
