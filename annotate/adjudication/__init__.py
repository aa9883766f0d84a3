"""Adjudication: merge annotators' versions, typed conflicts, review, gold."""
