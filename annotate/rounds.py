"""The rounds a batch belongs to (core `batches.round`), named once for every module that filters by them,
and the names batches and Doccano projects get.

- pilot, main: annotators' versions of each post's entities, pulled by `annotate pull` into
  `annotations`; agreement and adjudication read only these.
- images: the optional image-relevance round (`annotate images`); its choices go to
  annotate_image_votes, never to `annotations`.
- adjudication: the adjudicator's project (`adjudicate --doccano`); its examples are decisions,
  applied by `adjudicate pull`, never stored as anyone's annotations.
"""

from __future__ import annotations

import secrets

from cmner_build.store import Store

PILOT = "pilot"
MAIN = "main"
IMAGES = "images"
ADJUDICATION = "adjudication"
TEXT_ROUNDS: tuple[str, ...] = (PILOT, MAIN)
# The stage lock every writing run of this stage holds (push, pull, adjudicate): one at a time per workspace.
ANNOTATE_LOCK = "annotate"


def last_batch_number(store: Store, round_: str) -> int:
    """The highest N among the round's batch ids `<name>-NNNN` (0 when it has none): new ids count on."""
    numbers = [int(tail) for (batch_id,) in store.query("SELECT batch_id FROM batches WHERE round = ?", (round_,))
               if (tail := batch_id.rsplit("-", 1)[-1]).isdigit()]
    return max(numbers, default=0)


def corpus_key(store: Store) -> str:
    """A short random key of this workspace, made once: Doccano project names carry it so that two
    workspaces pushing to one server never adopt each other's projects."""
    key = store.scalar("SELECT value FROM annotate_state WHERE key = 'corpus_key'")
    if key is None:
        key = secrets.token_hex(3)
        with store.transaction():
            store.execute("INSERT OR IGNORE INTO annotate_state (key, value) VALUES ('corpus_key', ?)", (key,))
        key = store.scalar("SELECT value FROM annotate_state WHERE key = 'corpus_key'")
    return str(key)
