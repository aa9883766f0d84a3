"""Datasets for the baselines, read from an export folder in a release format.

Two layouts are accepted, told apart by the first header line of the files:

* CMNER (`WID:` lines, one character per line): `train.txt`, `dev.txt`, optionally `test.txt`, with the
  post images in `DIR/images/` named `{post_id}_*` (what `cmner-build export --format cmner` writes, and
  the layout of the CMNER release itself);
* Twitter-2015 (`IMGID:` lines, one word per line): `train.txt`, `valid.txt` (or `dev.txt`), `test.txt`,
  with images named `{id}.jpg` or `{id}_*`. Twitter's OTHER type is read as MISC by the core reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cmner_build.errors import CmnerError, FormatError
from cmner_build.formats import FORMATS, read_tagged_file, split_from_filename
from cmner_build.importer import index_images

SPLIT_ORDER = ("train", "dev", "test")


@dataclass
class Post:
    post_id: str
    tokens: list[str]
    tags: list[str]
    image_files: list[str] = field(default_factory=list)  # names under the export's images/ folder


@dataclass
class ExportData:
    export_dir: Path
    fmt: str  # "cmner" or "twitter2015"
    splits: dict[str, list[Post]]
    images_dir: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def has_test(self) -> bool:
        return bool(self.splits.get("test"))

    def posts(self) -> list[Post]:
        return [post for split in SPLIT_ORDER for post in self.splits.get(split, [])]


def detect_format(path: Path) -> str:
    """'cmner' or 'twitter2015' from the first header line of a release file."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            for fmt, spec in FORMATS.items():
                if line.startswith(spec["header"]):
                    return fmt
            raise FormatError("expected a WID: (CMNER) or IMGID: (Twitter-2015) header line", path, line_number)
    raise FormatError("the file is empty", path)


def split_files(export_dir: Path) -> dict[str, Path]:
    """The release files of a folder by split: train.txt, dev.txt or valid.txt, test.txt."""
    if not export_dir.is_dir():
        raise CmnerError(
            f"{export_dir} is not a folder; export the corpus first (`cmner-build export --format cmner`) "
            "or pass --export DIR"
        )
    files: dict[str, Path] = {}
    for path in sorted(export_dir.glob("*.txt")):
        split = split_from_filename(path)
        if split is None:
            continue
        if split in files:
            raise CmnerError(f"{export_dir}: both {files[split].name} and {path.name} hold the {split} split")
        files[split] = path
    for needed in ("train", "dev"):
        if needed not in files:
            raise CmnerError(
                f"{export_dir}: no {needed} split (expected {needed}.txt"
                f"{' or valid.txt' if needed == 'dev' else ''} in the CMNER or Twitter-2015 format)"
            )
    return files


def load_export(export_dir: Path) -> ExportData:
    """Read train / dev / (test) and attach each post's image file names."""
    export_dir = Path(export_dir)
    files = split_files(export_dir)
    formats = {split: detect_format(path) for split, path in files.items()}
    if len(set(formats.values())) > 1:
        raise CmnerError(f"{export_dir}: the split files mix formats: {formats}")
    fmt = formats["train"]
    images_dir = export_dir / "images"
    # Release names `{post_id}_*` (CMNER) and `{id}.ext` (Twitter-2015): the importer's one index.
    images_by_post = index_images(images_dir) if images_dir.is_dir() else {}
    data = ExportData(export_dir, fmt, {}, images_dir)
    for split in SPLIT_ORDER:
        if split not in files:
            continue
        result = read_tagged_file(files[split], fmt)
        data.warnings.extend(result.warnings)
        data.splits[split] = [
            Post(doc.doc_id, doc.tokens, doc.tags, [path.name for path in images_by_post.get(doc.doc_id, [])])
            for doc in result.documents
        ]
        if not data.splits[split]:
            raise CmnerError(f"{files[split]}: no posts")
    return data
