"""Pre-fill an annotator's copy of an example with suggested spans, as that annotator.

In a non-collaborative project a span belongs to the user who made it and only that user sees it
(docs/annotate.md), so a suggestion must be created by a session of the annotator: an admin's or an
imported span would be invisible to them. Offsets are converted to Doccano's UTF-16 here and nowhere
else. Idempotent: spans the annotator already has are not created twice.
"""

from __future__ import annotations

from typing import Iterable

from cmner_build.model import Span

from cmner_build.annotate.doccano.api import DoccanoAPI, DoccanoError
from cmner_build.annotate.doccano.offsets import Utf16Index, code_points_to_utf16


def annotator_spans(api: DoccanoAPI, project_id: int, example_id: int, text: str,
                    label_names: dict[int, str]) -> set[Span]:
    """The logged-in annotator's spans of the example, in code points."""
    index = Utf16Index(text)
    spans = set()
    for item in api.list_spans(project_id, example_id):
        try:
            spans.add(Span(index.to_code_point(item["start_offset"]), index.to_code_point(item["end_offset"]),
                           label_names.get(int(item["label"]), str(item["label"]))))
        except (KeyError, TypeError, ValueError) as error:
            raise DoccanoError(f"project {project_id}, example {example_id}: a span Doccano returned is "
                               f"malformed ({error})") from None
    return spans


def prefill_example(api: DoccanoAPI, project_id: int, example_id: int, text: str, spans: Iterable[Span],
                    label_ids: dict[str, int]) -> int:
    """Create the suggested spans (code points) the logged-in annotator does not have yet; returns how many."""
    present = annotator_spans(api, project_id, example_id, text, {v: k for k, v in label_ids.items()})
    created = 0
    for span in sorted(spans):
        if span in present:
            continue
        api.create_span(project_id, example_id, code_points_to_utf16(text, span.start),
                        code_points_to_utf16(text, span.end), label_ids[span.label])
        created += 1
    return created
