"""The annotation guideline shown in every Doccano project: bundled Chinese + English text, or the lab's own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cmner_build.errors import ConfigError


def default_guideline() -> str:
    """The bundled guideline (annotate/data/guideline.md): the CMNER protocol with worked examples."""
    return (resources.files("cmner_build.annotate") / "data" / "guideline.md").read_text(encoding="utf-8")


def load_guideline(workspace_root: Path, configured: str = "") -> str:
    """`[annotate] guideline` names a Markdown file (relative to the workspace); empty means the bundled one."""
    if not configured:
        return default_guideline()
    path = Path(configured).expanduser()
    if not path.is_absolute():
        path = workspace_root / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: the guideline file named by [annotate] guideline does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the guideline ({error})") from None
    if not text.strip():
        raise ConfigError(f"{path}: the guideline file is empty")
    return text
