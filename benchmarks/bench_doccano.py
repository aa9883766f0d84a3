"""Benchmark: push 5,000 posts and pull 15,000 annotator-examples against a local Doccano 1.8.4.

Target: each under 60 s on this machine (bulk JSONL import and per-user export zips, never one
request per example). Starts its own server from .venv-doccano on 127.0.0.1 (`make doccano-venv`)
and stops it by pid.

    .venv/bin/python benchmarks/bench_doccano.py [--posts 5000] [--batch-size 100]

The annotators' work (three annotators x every post: spans after an emoji, and confirmations) is
written straight into the server's SQLite between push and pull: it is set-up, not measured.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cmner_build.annotate.doccano.api import DoccanoAPI  # noqa: E402
from cmner_build.annotate.doccano.server import (  # noqa: E402
    free_port, init_database, repo_venv_path, start_server, stop_server, venv_is_ready,
)
from cmner_build.annotate.pull import pull_from_server  # noqa: E402
from cmner_build.annotate.push import push  # noqa: E402
from cmner_build.annotate.users import add_annotators  # noqa: E402
from cmner_build.store import utc_now  # noqa: E402
from cmner_build.workspace import init_workspace  # noqa: E402

TARGET_SECONDS = 60.0
ANNOTATORS = ["bench_a", "bench_b", "bench_c"]


def fill_annotations(db_path: Path, project_ids: list[int], users: dict[str, int]) -> int:
    """Every annotator labels 上海 (after an emoji: UTF-16 offsets 5-7) in every example and confirms it."""
    connection = sqlite3.connect(db_path)
    now = "2026-01-01 00:00:00"
    examples = 0
    with connection:
        for project_id in project_ids:
            label_id = connection.execute(
                "SELECT id FROM label_types_spantype WHERE project_id = ? AND text = 'LOC'", (project_id,)).fetchone()[0]
            ids = [row[0] for row in connection.execute("SELECT id FROM examples_example WHERE project_id = ?", (project_id,))]
            for user_id in users.values():
                connection.executemany(
                    "INSERT INTO labels_span (prob, manual, created_at, updated_at, start_offset, end_offset, example_id, "
                    "label_id, user_id, uuid) VALUES (0, 0, ?, ?, 5, 7, ?, ?, ?, ?)",
                    [(now, now, example_id, label_id, user_id, uuid.uuid4().hex) for example_id in ids])
                connection.executemany(
                    "INSERT INTO examples_examplestate (confirmed_at, confirmed_by_id, example_id) VALUES (?, ?, ?)",
                    [(now, user_id, example_id) for example_id in ids])
                examples += len(ids)
    connection.close()
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    options = parser.parse_args()
    venv = repo_venv_path()
    if venv is None or not venv_is_ready(venv):
        sys.exit("the Doccano server venv .venv-doccano is absent: run `make doccano-venv` first")

    scratch = Path(tempfile.mkdtemp(prefix="bench-doccano-"))
    server_dir = scratch / "doccano"
    password = "Bench-" + secrets.token_urlsafe(12)
    try:
        started = time.perf_counter()
        init_database(venv, server_dir, "admin", password)
        record = start_server(venv, server_dir, port=free_port())
        print(f"server up in {time.perf_counter() - started:.1f} s (not measured): {record.url}")
        workspace, _ = init_workspace(scratch / "ws")
        store = workspace.store
        now = utc_now()
        with store.transaction():
            store.connection.executemany(
                "INSERT INTO posts (post_id, topic, source, original_text, text, status, created_at, updated_at) "
                "VALUES (?, '旅游', 'crawl', ?, ?, 'ready', ?, ?)",
                [(f"b{i:06d}", text, text, now, now)
                 for i, text in ((i, f"😀今天去上海见了李华，第{i}条微博，𠮷野家的新店也开了。") for i in range(options.posts))])
            store.execute("INSERT INTO agreement_runs (created_at, round, strict_f1, passed) VALUES (?, 'pilot', 1.0, 1)",
                          (now,))
        api = DoccanoAPI.login(record.url, "admin", password)
        add_annotators(api, store, ANNOTATORS, scratch / "passwords.tsv")

        started = time.perf_counter()
        report = push(api, store, pool=ANNOTATORS, guideline="benchmark", seed=1, batch_size=options.batch_size)
        push_seconds = time.perf_counter() - started
        assert report.uploaded == options.posts, report.uploaded

        users = {user["username"]: user["id"] for user in (api.find_user(name) for name in ANNOTATORS)}
        project_ids = [batch.project_id for batch in report.batches]
        annotator_examples = fill_annotations(server_dir / "db.sqlite3", project_ids, users)

        started = time.perf_counter()
        pulled = pull_from_server(api, store)
        pull_seconds = time.perf_counter() - started
        confirmed = store.scalar("SELECT COUNT(*) FROM annotations WHERE confirmed = 1")
        spans_ok = store.scalar("SELECT COUNT(*) FROM annotation_spans WHERE start = 4 AND end = 6 AND label = 'LOC'")
        assert confirmed == annotator_examples == spans_ok, (confirmed, annotator_examples, spans_ok)
        assert pulled.posts_annotated == options.posts
        api.close()
        workspace.close()

        print(f"push: {options.posts} posts in {len(project_ids)} projects of {options.batch_size}: "
              f"{push_seconds:.1f} s  (target {TARGET_SECONDS:.0f} s, ratio {push_seconds / TARGET_SECONDS:.2f})")
        print(f"pull: {annotator_examples} annotator-examples: {pull_seconds:.1f} s  "
              f"(target {TARGET_SECONDS:.0f} s, ratio {pull_seconds / TARGET_SECONDS:.2f})")
    finally:
        stop_server(server_dir)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
