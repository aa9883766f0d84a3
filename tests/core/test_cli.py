import os
import subprocess
import sys

import typer.main

from cmner_build.cli import app

from tests.helpers import REPO_ROOT, run_cli

HEAVY_MODULES = ("torch", "transformers", "pandas", "numpy", "PIL", "httpx", "matplotlib", "datasketch", "doccano_client")


def all_commands():
    """(path, click command) for every command and sub-command of the app."""
    root = typer.main.get_command(app)
    stack = [((), root)]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "commands"):  # a group (typer 0.25+ carries its own click classes)
            stack.extend((path + (name,), sub) for name, sub in command.commands.items())
        else:
            yield path, command


def test_start_up_imports_nothing_heavy():
    code = (
        "import sys; import cmner_build.cli; "
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_every_command_has_help_with_an_example():
    commands = list(all_commands())
    assert {"init", "import", "export", "stats", "demo"} <= {path[0] for path, _ in commands}
    for path, _ in commands:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Example" in result.stdout, f"`cmner-build {' '.join(path)} --help` has no example"


def test_init_creates_a_commented_workspace_and_never_overwrites(tmp_path):
    root = tmp_path / "corpus"
    result = run_cli("init", root)
    assert result.exit_code == 0
    config = (root / "cmner.toml").read_text(encoding="utf-8")
    for expected in ('topics = ["体育", "旅游", "科技"]', "max_chars = 250", 'ratio = "3:1:1"', "seed = 42", "pool = []",
                     'url = "http://127.0.0.1:8000"'):
        assert expected in config
    assert config.count("\n#") >= 5
    assert all((root / name).is_dir() for name in ("archive", "images", "exports", "runs"))
    (root / "cmner.toml").write_text(config.replace("seed = 42", "seed = 7"), encoding="utf-8")
    assert "already exists" in run_cli("init", root).stderr
    assert "seed = 7" in (root / "cmner.toml").read_text(encoding="utf-8")


def test_workspace_comes_from_the_option_or_the_environment(tmp_path):
    root = tmp_path / "env-ws"
    run_cli("init", root)
    by_env = run_cli("stats", "--json", "--no-plots", env={"CMNER_WORKSPACE": str(root)})
    assert by_env.exit_code == 0 and '"posts": 0' in by_env.stdout
    missing = run_cli("-w", tmp_path / "nowhere", "stats")
    assert missing.exit_code == 2
    assert "is not a cmner-build workspace" in missing.error and "cmner-build init" in missing.error


def test_bad_input_gets_a_one_line_error_naming_the_line(tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("WID:A\n好\tO\n坏\tB-PERSON\n", encoding="utf-8")
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "cmner-build") if (REPO_ROOT / ".venv").exists() else "cmner-build",
         "-w", str(tmp_path / "ws"), "import", str(bad)],
        capture_output=True, text=True, env=env,
    )
    assert process.returncode == 2
    assert f"error: {bad}:3: unknown tag 'B-PERSON'" in process.stderr
    assert "Traceback" not in process.stderr


def test_export_explains_a_bad_ratio_before_doing_anything(tmp_path):
    root = tmp_path / "ws"
    run_cli("init", root)
    for ratio, message in (("3:1", "three parts"), ("a:b:c", "three numbers"), ("0:0:0", "above zero")):
        result = run_cli("-w", root, "export", "--split", ratio)
        assert result.exit_code == 2
        assert message in result.error
    assert not (root / "exports" / "cmner").exists()


def test_import_then_export_through_the_cli(tmp_path):
    release = tmp_path / "train.txt"
    release.write_text("WID:A\n北\tB-LOC\n京\tI-LOC\n\nWID:B\n好\tO\n", encoding="utf-8")
    root = tmp_path / "ws"
    assert run_cli("-w", root, "import", release).exit_code == 0
    result = run_cli("-w", root, "export", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "train.txt").read_bytes().decode("utf-8") == (
        "WID:A\r\n北\tB-LOC\r\n京\tI-LOC\r\n\r\nWID:B\r\n好\tO\r\n"
    )
    assert "2 posts kept their split, 0 newly assigned" in result.output
    # --keep-splits, the old spelling of the default, is still accepted.
    assert run_cli("-w", root, "export", "--keep-splits", "--out", tmp_path / "out").exit_code == 0


def flat(output: str) -> str:
    """The CLI's messages without the terminal's line wrapping."""
    return " ".join(output.split())


def test_splits_change_only_when_asked(tmp_path):
    root = tmp_path / "ws"
    train = tmp_path / "train.txt"
    train.write_text("\n\n".join(f"WID:P{i:02d}\n" + "\n".join(f"{c}\tO" for c in f"第{i:02d}条微博{chr(0x4E00 + 7 * i)}") for i in range(10)) + "\n",
                     encoding="utf-8")
    assert run_cli("-w", root, "import", train).exit_code == 0
    result = run_cli("-w", root, "export", "--split", "3:1:1", "--out", tmp_path / "out")
    assert "10 posts kept their split, 0 newly assigned" in flat(result.output)
    assert "--split / --seed apply only to posts without a split" in flat(result.output)
    result = run_cli("-w", root, "export", "--resplit", "--split", "3:1:1", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "6 posts kept their split, 0 newly assigned, 4 moved to another split (--resplit)" in flat(result.output)
    result = run_cli("-w", root, "import", train)
    assert "4 posts already stored have another split than their file gives" in flat(result.output)
    assert "--take-file-splits" in flat(result.output)
    result = run_cli("-w", root, "import", train, "--take-file-splits")
    assert "they now have the file's split" in flat(result.output)
    result = run_cli("-w", root, "export", "--out", tmp_path / "out")
    assert "10 posts kept their split" in flat(result.output)
    assert len((tmp_path / "out" / "train.txt").read_text(encoding="utf-8").split("WID:")) == 11
    result = run_cli("-w", root, "export", "--resplit", "--keep-splits")
    assert result.exit_code == 2 and "contradicts" in flat(result.output)


def test_help_shows_bracketed_settings_and_the_panels():
    push_help = run_cli("annotate", "push", "--help").stdout
    assert "[annotate] batch_size" in " ".join(push_help.split())
    top = run_cli("--help").stdout
    assert top.index("1. Workspace") < top.index("2. Collect") < top.index("5. Baselines")


def test_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cmner-build {version('cmner-build')}"


def test_a_global_option_after_the_command_gets_a_hint_and_a_typo_one_suggestion():
    misplaced = run_cli("stats", "-w", "corp")
    assert misplaced.exit_code == 2
    assert "put it before the command" in misplaced.stderr and "cmner-build -w DIR stats" in misplaced.stderr
    typo = run_cli("stat")
    assert typo.exit_code == 2
    assert typo.stderr.count("Did you mean") == 1


def test_redirected_output_has_no_progress_frames_and_no_wrapped_lines(tmp_path):
    release = tmp_path / "posts.txt"  # no split in the name: the posts get none
    release.write_text("WID:p1\n北\tB-LOC\n京\tI-LOC\n好\tO\n\nWID:p2\n天\tO\n津\tO\n", encoding="utf-8")
    cli = [sys.executable, "-m", "cmner_build", "-w", str(tmp_path / "ws")]
    imported = subprocess.run([*cli, "import", str(release)], capture_output=True, text=True, check=True)
    assert "━" not in imported.stderr and "\r" not in imported.stderr
    assert [line for line in imported.stderr.splitlines() if line.startswith("imported 2 posts")]
    stats = subprocess.run([*cli, "stats", "--no-plots"], capture_output=True, text=True, check=True,
                           env={**os.environ, "COLUMNS": "60"})
    sentence = next(line for line in stats.stdout.splitlines() if line.startswith("Table 1"))
    assert "cmner-build export" in sentence  # one line, not cut at 60 or 80 columns
