"""Baselines: datasets from an export, image features, ACN, UMT, training and evaluation."""
