"""The rounds a batch belongs to (core `batches.round`), named once for every module that filters by them.

- pilot, main: annotators' versions of each post's entities, pulled by `annotate pull` into
  `annotations`; agreement and adjudication read only these.
- images: the optional image-relevance round (`annotate images`); its choices go to
  annotate_image_votes, never to `annotations`.
- adjudication: the adjudicator's project (`adjudicate --doccano`); its examples are decisions,
  applied by `adjudicate pull`, never stored as anyone's annotations.
"""

from __future__ import annotations

PILOT = "pilot"
MAIN = "main"
IMAGES = "images"
ADJUDICATION = "adjudication"
TEXT_ROUNDS: tuple[str, ...] = (PILOT, MAIN)
