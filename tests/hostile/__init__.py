"""Hostile input driven through the CLI, stage by stage: no traceback, nothing outside the workspace."""
