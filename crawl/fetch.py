"""Polite HTTP with httpx: a delay with jitter between requests, exponential back-off on faults.

Faults that are retried with a back-off (docs/crawl.md): HTTP 403 / 414 / 418 / 429 / 432 / 5xx,
timeouts and network errors (DNS, refused connections), other redirects, and API bodies the caller
rejects (non-JSON or truncated JSON, a captcha reply `{"url": …}` without `data`, an `ok:0` that is
not the end). A redirect to the login / visitor pages stops the crawl at once: retrying cannot fix an
expired cookie. After `max_retries` retries the crawl stops with a message that names the real cause
of the last failure; everything done so far is committed, so the same command resumes.

A body the caller rejects as *content* (`BadContent`: a picture URL answering 200 with an HTML page,
an SVG, an empty or cut body) is not a transport fault: it is fetched once more after the usual
politeness delay, then raised to the caller, which records it on that one item and goes on.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import httpx

from cmner_build.errors import CmnerError

from cmner_build.crawl.settings import CrawlSettings

RETRY_STATUSES = {403, 408, 414, 418, 425, 429, 432}
THROTTLE_STATUSES = {"http_403", "http_414", "http_418", "http_429", "http_432"}
CONTENT_RETRIES = 1  # a body that is not the thing asked for is fetched once more, then recorded as bad
_DNS_FAILURE = re.compile(
    r"name or service not known|nodename nor servname|temporary failure in name resolution|getaddrinfo|"
    r"no address associated|could not resolve|name resolution", re.I)
_REFUSED = re.compile(r"connection refused|errno 111|errno 61\b|actively refused", re.I)
LOGIN_LOCATION = re.compile(r"passport\.weibo|/login|/signin|visitor|sso\.|security\.weibo", re.I)


class Fault(Exception):
    """A retryable failure: `kind` is what the request log and the summary count (http_418, timeout…)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}{': ' + detail if detail else ''}")
        self.kind = kind
        self.detail = detail


class BadContent(Exception):
    """A body arrived but is not what was asked for (an HTML page instead of a picture, an empty or cut
    body): a content error of this one thing, not a transport fault. Retried once, never backed off."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}{': ' + detail if detail else ''}")
        self.reason = reason
        self.detail = detail


class Gone(Exception):
    """HTTP 404 / 410: the thing is not there; retrying will not help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class LoginRequired(CmnerError):
    """Weibo redirected to its login or visitor page: the cookie is missing or expired."""


class CrawlBlocked(CmnerError):
    """Faults persisted through every retry (an IP block, a captcha): stop, resume later."""


@dataclass
class Reply:
    url: str
    status: int
    body: bytes
    content_type: str
    elapsed_ms: int
    fetched_at: datetime  # when the reply came: relative dates in it are read against this
    location: str | None = None  # the Location header of a redirect


# Called for each failed attempt: (url, reply or None, fault kind). The crawler logs and archives it.
AttemptHook = Callable[[str, "Reply | None", str], None]


class Fetcher:
    def __init__(
        self,
        settings: CrawlSettings,
        *,
        cookie: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_fault: AttemptHook | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._cookie = cookie  # only ever sent as a header; never logged, archived or printed
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.on_fault = on_fault
        self._last_request_end: float | None = None
        self.requests = 0
        self.faults: dict[str, int] = {}
        self.waited = 0.0
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Language": "zh-CN,zh;q=0.9"},
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the two kinds of request ----------------------------------------------------------------

    def api(self, url: str, validate: Callable[[Reply], Any], referer: str | None = None) -> tuple[Reply, Any]:
        headers = {
            "Accept": "application/json, text/plain, */*",
            "Referer": referer or f"{self.settings.api_base}/",
            "X-Requested-With": "XMLHttpRequest",
            "MWeibo-Pwa": "1",
        }
        if self._cookie:
            headers["Cookie"] = self._cookie
        return self._request(url, [headers], validate, self.settings.delay)

    def image(self, url: str, validate: Callable[[Reply], Any]) -> tuple[Reply, Any]:
        """Pictures need a Referer (hotlink protection); on 403 the other Referer is tried at once."""
        base = {"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}
        referers = [self.settings.image_referer, self.settings.fallback_referer]
        return self._request(url, [{**base, "Referer": referer} for referer in referers], validate,
                             self.settings.image_delay)

    # -- the loop ----------------------------------------------------------------------------------

    def _request(
        self, url: str, header_sets: Sequence[dict[str, str]], validate: Callable[[Reply], Any], delay: float
    ) -> tuple[Reply, Any]:
        settings = self.settings
        header_index = 0
        retries = 0  # transport faults retried so far (each after a back-off)
        bad_bodies = 0  # bodies the caller rejected as content (retried once, without a back-off)
        while True:
            self._wait_turn(delay)
            reply: Reply | None = None
            try:
                reply = self._get(url, header_sets[header_index])
                fault = self._status_fault(url, reply)
                if fault is None:
                    return reply, validate(reply)
            except BadContent as bad:
                bad_bodies += 1
                self._count(url, reply, f"bad_content:{bad.reason}")
                if bad_bodies > CONTENT_RETRIES:
                    raise
                continue  # one more try after the politeness delay: a body cut by the network comes whole
            except Fault as caught:
                fault = caught
            except httpx.TimeoutException:
                fault = Fault("timeout", f"no answer within {settings.timeout:g} s")
            except httpx.TransportError as error:
                fault = network_fault(url, error)
            finally:
                self._last_request_end = time.monotonic()
            self._count(url, reply, fault.kind)
            if fault.kind == "http_403" and header_index + 1 < len(header_sets):
                header_index += 1  # the other Referer, without waiting out a back-off
                continue
            if retries >= settings.max_retries:
                raise CrawlBlocked(blocked_message(url, fault, settings))
            # The back-off replaces the politeness delay before the retry, and is never shorter.
            pause = max(min(settings.backoff_cap, settings.backoff_base * (2**retries)), self._delay(delay))
            retries += 1
            self.waited += pause
            self.sleep(pause)
            self._last_request_end = None

    def _count(self, url: str, reply: "Reply | None", kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1
        if self.on_fault is not None:
            self.on_fault(url, reply, kind)

    def _wait_turn(self, delay: float) -> None:
        if self._last_request_end is None:
            return
        remaining = self._delay(delay) - (time.monotonic() - self._last_request_end)
        if remaining > 0:
            self.waited += remaining
            self.sleep(remaining)

    def _delay(self, delay: float) -> float:
        return delay + (self.rng.uniform(0, self.settings.jitter) if self.settings.jitter and delay else 0.0)

    def _get(self, url: str, headers: dict[str, str]) -> Reply:
        started = time.monotonic()
        self.requests += 1
        response = self.client.get(url, headers=headers)
        return Reply(
            url=url,
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            elapsed_ms=int((time.monotonic() - started) * 1000),
            fetched_at=datetime.now(timezone.utc),
            location=response.headers.get("location"),
        )

    def _status_fault(self, url: str, reply: Reply) -> Fault | None:
        status = reply.status
        if 300 <= status < 400:
            location = reply.location or ""
            if LOGIN_LOCATION.search(location):
                raise LoginRequired(
                    f"{_short(url)}: Weibo redirected to its login page ({urlsplit(location).netloc or location[:40]}): "
                    f"the cookie in ${self.settings.cookie_env} is missing or expired. Log in to m.weibo.cn in a "
                    f"browser, copy the Cookie request header into ${self.settings.cookie_env}, and run the same "
                    "command again: the crawl resumes where it stopped"
                )
            return Fault(f"redirect_{status}", location[:160])
        if status in (404, 410):
            raise Gone(status)
        if status in RETRY_STATUSES or status >= 500:
            return Fault(f"http_{status}")
        if status != 200:
            return Fault(f"http_{status}")
        return None


def network_fault(url: str, error: Exception) -> Fault:
    """A transport error as a fault that names its real cause (DNS, refused connection, other)."""
    text = str(error) or type(error).__name__
    host = urlsplit(url).hostname or url
    if _DNS_FAILURE.search(text):
        return Fault("dns", f"could not resolve host {host} ({text})")
    if _REFUSED.search(text):
        return Fault("connection_refused", f"connection refused by {host} ({text})")
    return Fault("network", f"{type(error).__name__}: {text}")


def blocked_message(url: str, fault: Fault, settings: CrawlSettings) -> str:
    """The final error after every retry: the real cause of the last failure, and what to do."""
    where = _short(url)
    retries = f"after {settings.max_retries} retries"
    resume = "then run the same command again: it resumes where it stopped"
    if fault.kind in ("dns", "connection_refused", "network"):
        return f"{where}: {fault.detail} {retries}. Check the network connection and the base URL ({settings.api_base}), {resume}"
    if fault.kind == "timeout":
        return f"{where}: {fault.detail} {retries}. Check the network connection, {resume}"
    if fault.kind == "captcha":
        return (f"{where}: Weibo answers with a captcha (verification) reply {retries}. Open m.weibo.cn in a browser "
                f"with the same cookie, pass the check, {resume}")
    if fault.kind in THROTTLE_STATUSES:
        return (f"{where}: HTTP {fault.kind[5:]} {retries}: Weibo is throttling or blocking this client. Wait (418 "
                f"blocks last hours), check the cookie in ${settings.cookie_env}, {resume}")
    if fault.kind.startswith("http_"):
        return f"{where}: the server answered HTTP {fault.kind[5:]} {retries}, {resume}"
    if fault.kind.startswith("redirect_"):
        return f"{where}: redirected (HTTP {fault.kind[9:]}) {retries}: {fault.detail or 'no Location'}, {resume}"
    return (f"{where}: the reply is not the expected one ({fault}) {retries}; Weibo sends such replies to a client "
            f"it throttles: wait, {resume}")


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}{'?' + parts.query if parts.query else ''}"[:160]
