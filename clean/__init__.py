"""Cleaning: text rules, privacy redaction, content filter, image validation, filtering and dedupe."""
