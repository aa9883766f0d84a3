"""What one crawl run shares: the store, the archive, the fetcher, the summary; recorded-or-live requests
and picture downloads, each committed so that a kill repeats at most the request in flight."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from cmner_build.safety import UnsafeInputError, is_valid_post_id
from cmner_build.store import Store

from cmner_build.crawl import state
from cmner_build.crawl.archive import ArchiveWriter, parse_at
from cmner_build.crawl.endpoints import fetch_image_url
from cmner_build.crawl.fetch import BadContent, CrawlBlocked, Fault, Fetcher, Gone, Reply
from cmner_build.crawl.images import BadImage, existing_image, image_type, keep_in_archive, write_image
from cmner_build.crawl.parse import image_pid
from cmner_build.crawl.record import mark_downloaded, mark_image_bad, mark_image_gone, note_image_failure
from cmner_build.crawl.settings import CrawlSettings
from cmner_build.crawl.summary import CrawlSummary

ProgressHook = Callable[[CrawlSummary], None]


class CrawlSession:
    def __init__(
        self,
        store: Store,
        archive_dir: Path,
        images_dir: Path,
        settings: CrawlSettings,
        *,
        fetcher: Fetcher | None = None,
        environ: dict[str, str] | None = None,
        on_progress: ProgressHook | None = None,
    ) -> None:
        state.migrate(store)
        self.store = store
        self.archive = ArchiveWriter(archive_dir)
        self.images_dir = Path(images_dir)
        self.images_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.images_dir.glob(".*.part"):  # a picture being written when a run was killed
            leftover.unlink(missing_ok=True)
        self.settings = settings
        self.summary = CrawlSummary(max_chars=settings.max_chars)
        self.on_progress = on_progress
        self._fetcher = fetcher
        self._environ = environ
        self._context: tuple[str, state.QueryState | None] = ("index", None)

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = Fetcher(self.settings, cookie=self.settings.cookie(self._environ), on_fault=self._on_fault)
        elif self._fetcher.on_fault is None:
            self._fetcher.on_fault = self._on_fault
        return self._fetcher

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    def report(self) -> None:
        if self._fetcher is not None:
            self.summary.requests = self._fetcher.requests
        if self.on_progress is not None:
            self.on_progress(self.summary)

    # -- API requests -----------------------------------------------------------------------------

    def fetch_api(
        self,
        kind: str,
        url: str,
        validate: Callable[[bytes], tuple[str, Any]],
        *,
        query: state.QueryState | None = None,
        name: str | None = None,
        referer: str | None = None,
    ) -> tuple[Any, datetime, bool]:
        """(parsed value, fetched_at, was_recorded): the archived answer when this URL was answered
        before (in this query generation), else a live request that is archived and logged.

        `validate(body)` returns (outcome 'ok' | 'end', parsed value) or raises Fault.
        """
        recorded = state.recorded_answer(self.store, url, query)
        if recorded is not None:
            try:
                body = self.archive.read(recorded["archive_file"])
                outcome, value = validate(body)
                return value, parse_at(recorded["at"]) or datetime.now().astimezone(), True
            except (OSError, Fault):
                pass  # the archived copy is gone or damaged: ask again
        self._context = (kind, query)
        outcomes: dict[str, str] = {}

        def check(reply: Reply) -> Any:
            outcome, value = validate(reply.body)
            outcomes["outcome"] = outcome
            return value

        reply, value = self.fetcher.api(url, check, referer=referer)
        outcome = outcomes["outcome"]
        relative = self.archive.write(
            kind=kind, url=url, body=reply.body, status=reply.status, outcome=outcome, at=reply.fetched_at, name=name
        )
        with self.store.transaction():
            state.log_request(
                self.store, kind=kind, url=url, outcome=outcome, http_status=reply.status, query=query,
                archive_file=relative, size=len(reply.body), elapsed_ms=reply.elapsed_ms,
                at=reply.fetched_at.isoformat(timespec="seconds"),
            )
        return value, reply.fetched_at, False

    def _on_fault(self, url: str, reply: Reply | None, kind_of_fault: str) -> None:
        kind, query = self._context
        self.summary.faults[kind_of_fault] += 1
        relative = None
        if reply is not None and reply.body:
            relative = self.archive.write(
                kind=kind, url=url, body=reply.body, status=reply.status, outcome=f"fault:{kind_of_fault}",
                at=reply.fetched_at,
            )
        with self.store.transaction():
            state.log_request(
                self.store, kind=kind, url=url, outcome=f"fault:{kind_of_fault}",
                http_status=reply.status if reply else None, query=query, archive_file=relative,
                size=len(reply.body) if reply else None, elapsed_ms=reply.elapsed_ms if reply else None,
            )
        self.report()

    # -- pictures -----------------------------------------------------------------------------------

    def download_image(self, row: Any) -> bool:
        """Fetch one pending picture (or adopt a complete file a killed run already wrote). True if stored."""
        image_id, post_id, position, url = row["image_id"], row["post_id"], row["position"], row["url"]
        if not is_valid_post_id(post_id):  # stored before ids were checked: never a file name
            with self.store.transaction():
                mark_image_bad(self.store, image_id, "invalid_post_id", f"post id {post_id!r} cannot name a file")
            self.reject("invalid_id", f"picture of post {post_id!r} not fetched: the id is not a valid post id")
            return False
        found = existing_image(self.images_dir, post_id, position)
        fetch_url = fetch_image_url(url, self.settings.image_base)
        if found is not None:
            image_file, _ = found
            http_status, elapsed = None, None
        else:
            self._context = ("image", None)

            def check(reply: Reply) -> str:
                try:
                    return image_type(reply.body)
                except BadImage as error:
                    raise BadContent(error.reason, str(error)) from None

            try:
                reply, _ = self.fetcher.image(fetch_url, check)
            except CrawlBlocked as blocked:
                # Transport faults stop the run (the next one resumes), but this picture goes to the end of
                # the queue: one picture that keeps failing never keeps the others from being fetched.
                with self.store.transaction():
                    note_image_failure(self.store, image_id, str(blocked))
                raise
            except Gone as gone:
                with self.store.transaction():
                    mark_image_gone(self.store, image_id, gone.status)
                    state.log_request(self.store, kind="image", url=fetch_url, outcome="gone", http_status=gone.status)
                self.summary.images_failed += 1
                return False
            except BadContent as bad:
                # The body arrived but is no picture: recorded on this image, the crawl goes on.
                with self.store.transaction():
                    mark_image_bad(self.store, image_id, bad.reason, bad.detail)
                    state.log_request(self.store, kind="image", url=fetch_url, outcome=f"bad_content:{bad.reason}")
                self.summary.images_bad[bad.reason] += 1
                return False
            image_file = write_image(self.images_dir, post_id, position, reply.body)
            http_status, elapsed = reply.status, reply.elapsed_ms
        archived = self._keep_in_archive(image_file.file_name, image_pid(url))
        with self.store.transaction():
            mark_downloaded(self.store, image_id, image_file.file_name, image_file.sha256, image_file.width,
                            image_file.height)
            state.log_request(
                self.store, kind="image", url=fetch_url, outcome="ok" if http_status else "ok:adopted",
                http_status=http_status, archive_file=archived, size=image_file.size, elapsed_ms=elapsed,
            )
        self.summary.images_downloaded += 1
        return True

    def _keep_in_archive(self, file_name: str, pid: str) -> str | None:
        """archive/images/<pid>.<ext> (relative), or None when the picture id cannot be a file name."""
        try:
            archived = keep_in_archive(self.images_dir / file_name, self.archive.images_dir, pid)
        except UnsafeInputError as error:
            self.reject("bad_picture_id", f"picture not archived: {error}", files=True)
            return None
        return archived.relative_to(self.archive.root).as_posix()

    def reject(self, reason: str, message: str, *, files: bool = False) -> None:
        """A bad item from outside (an invalid id, a topic that cannot be a name): not stored; counted
        under `reason`, named with its reason in the summary and recorded as an event."""
        (self.summary.files_skipped if files else self.summary.skipped)[reason] += 1
        self.summary.reject(message)
        with self.store.transaction():
            self.store.log_event("crawl", "rejected", message, reason=reason)

    def adopt_archived_image(self, row: Any, source: Path) -> bool:
        """Copy a picture's bytes found in an archive into images/ (from-archive); False if they are bad."""
        if not is_valid_post_id(row["post_id"]) or source.is_symlink():
            self.reject("bad_image", f"{source.name}: not adopted for post {row['post_id']!r}", files=True)
            return False
        data = source.read_bytes()
        try:
            image_file = write_image(self.images_dir, row["post_id"], row["position"], data)
        except BadImage as error:
            self.summary.files_skipped["bad_image"] += 1
            self.summary.reject(f"{source.name}: {error}")
            return False
        with self.store.transaction():
            mark_downloaded(self.store, row["image_id"], image_file.file_name, image_file.sha256, image_file.width,
                            image_file.height)
        self.summary.images_downloaded += 1
        return True

