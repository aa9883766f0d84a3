"""Import records and export zips: the shapes Doccano 1.8.4 reads and writes."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from cmner_build.annotate.doccano.examples import example_record, read_export_zip
from cmner_build.errors import FormatError
from cmner_build.model import Span


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_record_carries_post_id_in_meta_and_prefilled_spans_in_utf16() -> None:
    text = "👍北京国安"
    record = example_record("p1", text, batch_id="b1", spans=[Span(1, 5, "ORG")], meta={"topic": "体育"})
    assert record == {"text": text, "post_id": "p1", "batch_id": "b1", "topic": "体育", "label": [[2, 6, "ORG"]]}
    with pytest.raises(ValueError, match="collides"):
        example_record("p1", text, meta={"label": "x"})


def test_sequence_and_classification_lines_are_read() -> None:
    files = read_export_zip(zip_bytes({
        "ann1.jsonl": json.dumps({"id": 7, "text": "😀上海", "post_id": "p1", "batch_id": "b", "label": [[2, 4, "LOC"]],
                                  "Comments": ["hm"]}, ensure_ascii=False) + "\n\n",
        "img/ann2.jsonl": json.dumps({"id": 9, "filename": "p1_0.jpg", "post_id": "p1", "label": ["unrelated"]}),
    }))
    (line,) = files["ann1"]
    assert (line.example_id, line.post_id, line.spans, line.meta) == (7, "p1", [Span(1, 3, "LOC")], {"post_id": "p1", "batch_id": "b"})
    (image,) = files["ann2"]
    assert (image.file_name, image.categories, image.spans, image.text) == ("p1_0.jpg", ["unrelated"], [], None)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"ann1.csv": "x"}, "export the project as JSONL"),
        ({"ann1.jsonl": "[1, 2]"}, "ann1.jsonl:1: a line must be a JSON object"),
        ({"ann1.jsonl": '{"text": "a", "label": 3}'}, "`label` must be a list"),
        ({"ann1.jsonl": '{"text": "ab", "entities": [], "relations": []}'}, "relation-style export"),
        ({}, "no <username>.jsonl"),
    ],
)
def test_malformed_zips_name_file_and_line(files: dict[str, str], message: str) -> None:
    with pytest.raises(FormatError, match=message.replace("(", r"\(")):
        read_export_zip(zip_bytes(files))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_text("nope")
    with pytest.raises(FormatError, match=r"x.zip: not a Doccano export zip"):
        read_export_zip(path)
