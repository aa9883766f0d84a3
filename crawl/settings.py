"""The crawl settings: `[crawl]` in cmner.toml, then environment overrides, then command-line options.

Base URLs are settings so that tests (and mirrors) can point the crawler elsewhere:
`api_base` replaces `https://m.weibo.cn`; a non-empty `image_base` fetches picture
`https://<host>/<path>` from `<image_base>/<host>/<path>` (the pattern MediaCrawler uses with its
`https://i1.wp.com/<host>/large/<pid>` proxy). The cookie is read from the environment variable named
by `cookie_env` and lives only in memory: never in cmner.toml, corpus.db, the archive or a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Mapping

from cmner_build.config import DEFAULT_MAX_CHARS, Settings
from cmner_build.errors import ConfigError

API_BASE_ENV = "CMNER_WEIBO_API_BASE"
IMAGE_BASE_ENV = "CMNER_WEIBO_IMAGE_BASE"
DEFAULT_API_BASE = "https://m.weibo.cn"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
CONTAINERS = ("topic", "search")


@dataclass(frozen=True)
class CrawlSettings:
    delay: float = 3.0  # seconds between requests ...
    jitter: float = 2.0  # ... plus uniform(0, jitter)
    image_delay: float = 1.0  # between picture downloads (the CDN, not the API)
    backoff_base: float = 10.0  # retry n waits min(cap, base * 2**n)
    backoff_cap: float = 600.0
    max_retries: int = 8
    timeout: float = 20.0
    cookie_env: str = "WEIBO_COOKIE"
    api_base: str = DEFAULT_API_BASE
    image_base: str = ""
    image_referer: str = "https://weibo.com/"
    fallback_referer: str = "https://m.weibo.cn/"
    user_agent: str = DEFAULT_USER_AGENT
    containers: tuple[str, ...] = CONTAINERS
    max_chars: int = DEFAULT_MAX_CHARS

    def cookie(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The cookie header value, or None when unset; ConfigError (never showing it) when it cannot be one."""
        value = (environ if environ is not None else os.environ).get(self.cookie_env, "").strip()
        problem = cookie_problem(value)
        if problem is not None:
            raise ConfigError(
                f"${self.cookie_env} {problem}, so it cannot be sent as a Cookie header. Copy the value of the "
                "Cookie request header from the browser's developer tools again, as one line of plain ASCII"
            )
        return value or None

    def with_overrides(self, **values: Any) -> "CrawlSettings":
        changed = replace(self, **{key: value for key, value in values.items() if value is not None})
        check_base_url("api_base", changed.api_base)
        if changed.image_base:
            check_base_url("image_base", changed.image_base)
        return changed


def cookie_problem(value: str) -> str | None:
    """What makes `value` unusable as an HTTP header value; None when it is usable. Names only positions."""
    for position, char in enumerate(value, start=1):
        if char in "\r\n":
            return f"contains a line break (character {position})"
        if not char.isascii():
            return f"contains a non-ASCII character (character {position})"
        if ord(char) < 32 and char != "\t" or ord(char) == 127:
            return f"contains a control character (character {position})"
    return None


def check_base_url(name: str, value: str) -> None:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ConfigError(f"crawl.{name} must be an http(s) URL such as https://m.weibo.cn, found {value!r}")


def crawl_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> CrawlSettings:
    environ = environ if environ is not None else os.environ
    defaults = CrawlSettings()

    def number(key: str, default: float) -> float:
        value = settings.get("crawl", key, float, default)
        if value < 0:
            raise ConfigError(f"{settings._where()}crawl.{key} must not be negative, found {value}")
        return value

    containers = settings.get("crawl", "containers", list, list(defaults.containers))
    if not containers or any(name not in CONTAINERS for name in containers):
        raise ConfigError(f"{settings._where()}crawl.containers must list some of {', '.join(CONTAINERS)}")
    max_retries = settings.get("crawl", "max_retries", int, defaults.max_retries)
    if max_retries < 0:
        raise ConfigError(f"{settings._where()}crawl.max_retries must not be negative")
    result = CrawlSettings(
        delay=number("delay", defaults.delay),
        jitter=number("jitter", defaults.jitter),
        image_delay=number("image_delay", defaults.image_delay),
        backoff_base=number("backoff_base", defaults.backoff_base),
        backoff_cap=number("backoff_cap", defaults.backoff_cap),
        max_retries=max_retries,
        timeout=number("timeout", defaults.timeout) or defaults.timeout,
        cookie_env=settings.get("crawl", "cookie_env", str, defaults.cookie_env),
        api_base=(environ.get(API_BASE_ENV) or settings.get("crawl", "api_base", str, defaults.api_base)).rstrip("/"),
        image_base=(environ.get(IMAGE_BASE_ENV) or settings.get("crawl", "image_base", str, defaults.image_base)).rstrip("/"),
        image_referer=settings.get("crawl", "image_referer", str, defaults.image_referer),
        user_agent=settings.get("crawl", "user_agent", str, defaults.user_agent),
        containers=tuple(containers),
        max_chars=settings.max_chars,
    )
    return result.with_overrides()
