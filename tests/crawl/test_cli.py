"""`cmner-build crawl` end to end (in-process), `stats` over what it stored, and the demo's first step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmner_build.workspace import init_workspace

from tests.fake_weibo import Scenario, scenario, set_crawl_settings  # noqa: F401 - scenario is a fixture
from tests.helpers import run_cli

SAMPLE_ARCHIVE = Path(__file__).resolve().parents[2] / "cmner_build" / "sample" / "archive"
FAST = {"delay": "0.0", "jitter": "0.0", "image_delay": "0.0", "backoff_base": "0.001", "backoff_cap": "0.01",
        "max_retries": "2", "timeout": "0.5"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace, _ = init_workspace(tmp_path / "ws")
    workspace.close()
    set_crawl_settings(workspace.config_path, FAST)
    return workspace.root


def test_help_has_an_example() -> None:
    result = run_cli("crawl", "--help")
    assert result.exit_code == 0 and "Example: cmner-build -w corpus crawl --topic 体育" in result.stdout


def test_from_archive_json_summary_and_stats(tmp_path: Path) -> None:
    root = tmp_path / "new"  # created on the fly, like import
    result = run_cli("-w", root, "crawl", "--from-archive", SAMPLE_ARCHIVE, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["posts_kept"], summary["dropped"], summary["over_max_chars"]) == (63, {"no_images": 1, "repost": 1}, 1)
    assert "crawled posts over 250 chars" in result.stderr
    stats = json.loads(run_cli("-w", root, "stats", "--json", "--no-plots").stdout)
    assert stats["total"]["posts"] == 65
    assert stats["total"]["by_status"]["crawled"] == 63
    assert stats["total"]["drop_reasons"] == {"no_images": 1, "repost": 1}
    assert stats["total"]["images_by_status"]["downloaded"] == 157
    assert stats["total"]["by_topic"] == {"体育": 22, "旅游": 22, "科技": 21}


def test_online_crawl_via_options_then_nothing_new(root: Path, scenario: Scenario) -> None:
    args = ("-w", root, "crawl", "--topic", "体育", "--api-base", scenario.site.base_url,
            "--image-base", scenario.site.image_base, "--json")
    first = run_cli(*args, env={"WEIBO_COOKIE": ""})
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["posts_kept"] == len(scenario.eligible)
    assert "WEIBO_COOKIE is not set" in first.stderr
    second = run_cli(*args)
    assert json.loads(second.stdout)["posts_kept"] == 0 and json.loads(second.stdout)["requests"] == 0
    assert "done (last_page)" in second.stderr


def test_base_urls_from_the_environment(root: Path, scenario: Scenario) -> None:
    env = {"CMNER_WEIBO_API_BASE": scenario.site.base_url, "CMNER_WEIBO_IMAGE_BASE": scenario.site.image_base}
    result = run_cli("-w", root, "crawl", "-t", "体育", "--container", "topic", "--limit", "3", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["posts_kept"] == 3 and json.loads(result.stdout)["stopped_by"] == "limit"


def test_login_redirect_is_a_clear_stop_and_the_cookie_is_never_printed(root: Path, scenario: Scenario) -> None:
    scenario.site.fail("page=2", "login")
    secret = "SUB=very-secret-cookie"
    result = run_cli("-w", root, "crawl", "-t", "体育", "--api-base", scenario.site.base_url,
                     "--image-base", scenario.site.image_base, env={"WEIBO_COOKIE": secret})
    assert result.exit_code == 2
    assert "login page" in result.error and "$WEIBO_COOKIE" in result.error
    assert "stopped; what was done is kept" in result.stderr
    assert "very-secret" not in result.output + result.error
    resumed = run_cli("-w", root, "crawl", "-t", "体育", "--api-base", scenario.site.base_url,
                      "--image-base", scenario.site.image_base, "--json", env={"WEIBO_COOKIE": secret})
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["queries"]["体育/search"] == "done (last_page)"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--since", "2024-13-01"), "--since '2024-13-01' is not a day"),
        (("--since", "2024-06-02", "--until", "2024-06-01"), "--since is after --until"),
        (("--container", "timeline"), "--container must be topic, search or both"),
        (("--from-archive", ".", "--download-images"), "separate runs"),
        (("--from-archive", "/no/such/folder"), "/no/such/folder: archive folder not found"),
    ],
)
def test_bad_options_are_one_line_errors(root: Path, args: tuple, message: str) -> None:
    result = run_cli("-w", root, "crawl", *args)
    assert result.exit_code == 2 and message in result.error


def test_download_images_with_nothing_pending(root: Path) -> None:
    result = run_cli("-w", root, "crawl", "--download-images", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["images_found"] == 0


def test_demo_starts_with_the_offline_crawl(demo_run) -> None:
    from cmner_build.commands.demo import DEMO_STEPS

    first = DEMO_STEPS[0]
    assert list(first.args) == ["crawl", "--from-archive", "{sample}/archive"]
    _, result = demo_run
    assert result.exit_code == 0, result.output
    assert "157 downloaded of 157 found" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--from-archive", str(SAMPLE_ARCHIVE), "--limit", "3"), "--limit: only for the online crawl, not with --from-archive"),
        (("--download-images", "--topic", "体育"), "--topic: only for the online crawl, not with --download-images"),
        (("--from-archive", str(SAMPLE_ARCHIVE), "-t", "体育", "-t", "旅游"), "at most one --topic"),
        (("--topic", "体育", "--api-base", "m.weibo.cn"), "crawl.api_base must be an http(s) URL"),
    ],
)
def test_options_that_do_not_fit_the_mode(root: Path, args: tuple, message: str) -> None:
    result = run_cli("-w", root, "crawl", *args)
    assert result.exit_code == 2 and message in result.error
    assert not (root / "images").exists() or not any((root / "images").iterdir())


def test_unknown_api_path_is_a_clear_stop(root: Path, scenario: Scenario) -> None:
    result = run_cli("-w", root, "crawl", "-t", "体育", "--api-base", scenario.site.base_url + "/wrong")
    assert result.exit_code == 2 and "HTTP 404; is the API base URL" in result.error
