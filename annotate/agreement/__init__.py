"""Inter-annotator agreement: measures, bootstrap intervals, the pilot gate, stored runs."""
