"""Keep corpus.db's splits and the export folder in agreement, whatever instant a kill comes at.

An export writes its whole release into a staging folder beside the target, then (see `export.py`):

  1. `record_pending`: one transaction stores the new split assignment as *pending*, keyed by an
     export id that is also written into the staged folder's marker file (`MARKER_NAME`);
  2. the staged folder is swapped in (`safety.staged_folder`);
  3. `record_splits`: one transaction writes the assignment into posts.split and drops the pending row.

A kill before 2 leaves the old folder (its marker names another export, or none); a kill after 2
leaves the new folder, whose marker names the pending export. `settle_pending_exports`, run by the
next command that opens the store, looks at the marker and either records the pending splits or
forgets them, so the splits in the store always describe the folder that is in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from .safety import recover_folder
from .store import Store, utc_now

MARKER_NAME = ".cmner-export.json"


def read_marker(folder: Path) -> dict:
    """The export folder's marker ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((Path(folder) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_pending(store: Store, export_id: str, out_dir: Path, assignment: Mapping[str, str], **details: object) -> None:
    with store.transaction():
        store.execute(
            "INSERT INTO pending_exports (export_id, out_dir, assignment, details, created_at) VALUES (?, ?, ?, ?, ?)",
            (export_id, str(Path(out_dir).resolve()), json.dumps(dict(assignment), sort_keys=True),
             json.dumps(details, ensure_ascii=False, sort_keys=True, default=str), utc_now()),
        )


def forget_pending(store: Store, export_id: str) -> None:
    with store.transaction():
        store.execute("DELETE FROM pending_exports WHERE export_id = ?", (export_id,))


def record_splits(store: Store, export_id: str) -> None:
    """Write a pending export's assignment into posts.split; idempotent (re-running finds no row)."""
    with store.transaction():
        row = store.connection.execute(
            "SELECT assignment, details, out_dir FROM pending_exports WHERE export_id = ?", (export_id,)
        ).fetchone()
        if row is None:
            return
        assignment: dict[str, str] = json.loads(row["assignment"])
        now = utc_now()
        store.connection.executemany(
            "UPDATE posts SET split = ?, updated_at = ? WHERE post_id = ? AND split IS NOT ?",
            [(split, now, post_id, split) for post_id, split in assignment.items()],
        )
        store.log_event("export", "splits", f"assigned {len(assignment)} posts", out_dir=row["out_dir"],
                        export_id=export_id, **json.loads(row["details"]))
        store.execute("DELETE FROM pending_exports WHERE export_id = ?", (export_id,))


def settle_pending_exports(store: Store) -> int:
    """Finish what a killed export left: record its splits if its folder is in place, else forget them.

    The caller holds the export lock (no export is running). Returns how many pending exports it settled.
    """
    rows = store.query("SELECT export_id, out_dir FROM pending_exports ORDER BY created_at")
    for row in rows:
        out_dir = Path(row["out_dir"])
        recover_folder(out_dir)  # a kill between the two renames of the swap puts the old folder back
        if read_marker(out_dir).get("export_id") == row["export_id"]:
            record_splits(store, row["export_id"])
        else:
            with store.transaction():
                store.execute("DELETE FROM pending_exports WHERE export_id = ?", (row["export_id"],))
                store.log_event("export", "abandoned", "an interrupted export was not swapped in; splits unchanged",
                                export_id=row["export_id"], out_dir=str(out_dir))
    return len(rows)
