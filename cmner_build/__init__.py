"""cmner-build: build Chinese multimodal NER corpora from Weibo, the way CMNER was built."""

__version__ = "0.1.0"

# The environment variable naming the workspace folder (read by workspace.py; named in `--help`).
WORKSPACE_ENV = "CMNER_WORKSPACE"
