"""Translators for `cmner-build translate`: each turns a batch of sentences into one translation apiece.

- `MarianTranslator`: a MarianMT model through transformers (`from_pretrained(name_or_path)`: a hub name
  such as Helsinki-NLP/opus-mt-en-zh, or a local folder saved with `save_pretrained`).
- `CommandTranslator`: any external program that reads one sentence per line on stdin and writes one
  translation per line on stdout. It is run without a shell (`shlex.split`), once per batch, and must
  answer with exactly as many lines as it was given.
- `FileTranslator`: translations made elsewhere, in a JSONL file of `{"source": ..., "target": ...}`
  lines (the same format as the translation cache, so a cache is itself a translation file). A sentence
  missing from the file gets no translation (None), and the post that needs it is rejected.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
from pathlib import Path
from typing import Protocol, Sequence

from cmner_build.errors import CmnerError, FormatError
from cmner_build.formats import json_object_line
from cmner_build.safety import regular_file

from cmner_build.baselines.settings import (
    COMMAND_TIMEOUT_SECONDS,
    MARIAN_BEAMS,
    MARIAN_MAX_NEW_TOKENS,
    MARIAN_MODELS,
    MARIAN_PREFIXES,
    TRANSLATORS,
)

# Characters that would end a line for the external program or in the cache: sent as spaces.
_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\u2028": " ", "\u2029": " ", "\x85": " "})


class Translator(Protocol):
    name: str  # identifies the translator in the cache file name and the report

    def translate(self, sentences: Sequence[str]) -> list[str | None]: ...


def one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


class CommandTranslator:
    def __init__(self, command: str, timeout: float = COMMAND_TIMEOUT_SECONDS) -> None:
        self.arguments = shlex.split(command)
        if not self.arguments:
            raise CmnerError("--command is empty: give the program that translates stdin lines to stdout lines")
        self.name = f"command {command}"
        self.timeout = timeout

    def translate(self, sentences: Sequence[str]) -> list[str | None]:
        if not sentences:
            return []
        stdin = "".join(one_line(sentence) + "\n" for sentence in sentences)
        try:
            completed = subprocess.run(
                self.arguments, input=stdin.encode("utf-8"), capture_output=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            raise CmnerError(f"translator command not found: {self.arguments[0]}") from None
        except subprocess.TimeoutExpired:
            raise CmnerError(f"translator command did not answer within {self.timeout:.0f} s: {self.arguments[0]}") from None
        if completed.returncode != 0:
            tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise CmnerError(f"translator command exited with {completed.returncode}: {' | '.join(tail)}")
        try:
            stdout = completed.stdout.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CmnerError(f"translator command wrote output that is not UTF-8 (byte {error.start})") from None
        lines = stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if len(lines) != len(sentences):
            raise CmnerError(
                f"translator command returned {len(lines)} lines for {len(sentences)} sentences; "
                "it must write exactly one line per input line"
            )
        return list(lines)


class FileTranslator:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = f"file {self.path.name}"
        self.table = read_translation_file(self.path)

    def translate(self, sentences: Sequence[str]) -> list[str | None]:
        return [self.table.get(one_line(sentence)) for sentence in sentences]


def read_translation_file(path: Path, *, missing_ok: bool = False) -> dict[str, str]:
    """source -> target from a JSONL file of {"source", "target"} objects; a bad line is an error naming it.

    A last line cut short (a run killed while appending to a cache) is ignored.
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return {}
    regular_file(path)
    table: dict[str, str] = {}
    lines = path.read_bytes().decode("utf-8", "replace").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json_object_line(line, path, number)
        except FormatError:
            if number == len(lines):
                break  # a partial last line: the append was interrupted
            raise
        if not (isinstance(record.get("source"), str) and isinstance(record.get("target"), str)):
            raise CmnerError(f'{path}:{number}: expected {{"source": "...", "target": "..."}}')
        table[record["source"]] = record["target"]
    return table


class MarianTranslator:
    def __init__(self, name_or_path: str, *, device: str = "auto", prefix: str = "", beams: int = MARIAN_BEAMS,
                 max_new_tokens: int = MARIAN_MAX_NEW_TOKENS) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from cmner_build.baselines.device import choose_device

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path, dtype=torch.float32)
        except (OSError, ValueError, ImportError) as error:
            raise CmnerError(
                f"cannot load the translation model {name_or_path!r}: {str(error).splitlines()[0]} "
                "(give a local folder saved with save_pretrained when the hub cannot be reached; "
                "Marian tokenizers need the sentencepiece package)"
            ) from None
        self.device = choose_device(device)
        self.model.to(self.device).eval()
        self.name = f"marian {name_or_path}"
        self.prefix = prefix
        self.beams = beams
        self.max_new_tokens = max_new_tokens

    def translate(self, sentences: Sequence[str]) -> list[str | None]:
        import torch

        if not sentences:
            return []
        inputs = self.tokenizer([self.prefix + sentence for sentence in sentences], return_tensors="pt",
                                padding=True, truncation=True).to(self.device)
        with torch.no_grad():
            generated = self.model.generate(**inputs, num_beams=self.beams, max_new_tokens=self.max_new_tokens)
        return [one_line(text).strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]


def make_translator(kind: str, direction: str, *, model: str | None = None, prefix: str | None = None,
                    command: str | None = None, translations: Path | None = None, device: str = "auto"
                    ) -> tuple[Translator, str | None]:
    """The translator a `translate` run asked for, and the key naming its cache file (None: no cache,
    the translations file already is one)."""
    if kind not in TRANSLATORS:
        raise CmnerError(f"--translator must be one of {', '.join(TRANSLATORS)}, not {kind!r}")
    if kind == "command":
        if not command:
            raise CmnerError("--translator command needs --command 'PROGRAM ARGS'")
        return CommandTranslator(command), hashlib.sha256(command.encode("utf-8")).hexdigest()[:10]
    if kind == "file":
        if translations is None:
            raise CmnerError("--translator file needs --translations FILE.jsonl")
        return FileTranslator(translations), None
    name = model or MARIAN_MODELS.get(direction)
    if name is None:
        raise CmnerError(f"no default Marian model for {direction}; pass --model")
    translator = MarianTranslator(name, device=device,
                                  prefix=MARIAN_PREFIXES.get(direction, "") if prefix is None else prefix)
    return translator, re.sub(r"[^A-Za-z0-9.-]+", "_", name)[-60:]
