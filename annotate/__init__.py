"""Annotation: the Doccano adapter, batches and annotator triples, pilot, agreement and adjudication."""
