"""cmner-build: build Chinese multimodal NER corpora from Weibo, the way CMNER was built."""

__version__ = "0.1.0"
