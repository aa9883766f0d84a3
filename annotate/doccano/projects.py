"""Doccano projects as cmner-build sets them up: labels with colours and keys, guideline, members.

Every function is idempotent (looks before it creates), so a push interrupted anywhere can run again.
"""

from __future__ import annotations

from typing import Iterable

from cmner_build.model import LABELS

from cmner_build.annotate.doccano.api import DoccanoAPI

# Background colour and shortcut key of each entity type (Doccano: press the key to apply the label).
SPAN_LABEL_STYLES: dict[str, tuple[str, str]] = {
    "PER": ("#e6194b", "p"),
    "LOC": ("#3cb44b", "l"),
    "ORG": ("#4363d8", "o"),
    "MISC": ("#f58231", "m"),
}
assert tuple(SPAN_LABEL_STYLES) == LABELS
# Image relevance: annotators mark images that have nothing to do with the post's text.
IMAGE_LABEL_STYLES: dict[str, tuple[str, str]] = {
    "related": ("#3cb44b", "r"),
    "unrelated": ("#e6194b", "u"),
}


def ensure_project(api: DoccanoAPI, name: str, project_type: str, *, description: str, guideline: str,
                   collaborative: bool = False, single_class: bool = False, tags: Iterable[str] = ()) -> int:
    """The id of the project called `name`, created if missing (the oldest one if several exist).

    Non-collaborative by default: each annotator sees only their own spans and confirmations, and the
    export has one file per annotator. An existing project gets the guideline and mode re-applied."""
    existing = sorted(api.find_projects_by_name(name), key=lambda project: project["id"])
    if existing:
        project = existing[0]
        wanted = {"guideline": guideline, "collaborative_annotation": collaborative}
        if any(project.get(key) != value for key, value in wanted.items()):
            api.update_project(project["id"], **wanted)
        return int(project["id"])
    project = api.create_project(
        name, project_type, description=description, guideline=guideline, collaborative_annotation=collaborative,
        single_class_classification=single_class, allow_overlapping=False, tags=tags,
    )
    return int(project["id"])


def ensure_sequence_labeling_project(api: DoccanoAPI, name: str, *, description: str, guideline: str,
                                     collaborative: bool = False) -> int:
    """A sequence-labeling project with the four entity types (PER/LOC/ORG/MISC) and their keys."""
    project_id = ensure_project(api, name, "SequenceLabeling", description=description, guideline=guideline,
                                collaborative=collaborative, tags=["cmner-build"])
    ensure_label_types(api, project_id, "span", SPAN_LABEL_STYLES)
    return project_id


def ensure_image_relevance_project(api: DoccanoAPI, name: str, *, description: str, guideline: str) -> int:
    project_id = ensure_project(api, name, "ImageClassification", description=description, guideline=guideline,
                                single_class=True, tags=["cmner-build", "images"])
    ensure_label_types(api, project_id, "category", IMAGE_LABEL_STYLES)
    return project_id


def ensure_label_types(api: DoccanoAPI, project_id: int, kind: str, styles: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Create the missing label types; returns {label text: label type id}."""
    present = {label["text"]: int(label["id"]) for label in api.list_label_types(project_id, kind)}
    for text, (color, key) in styles.items():
        if text not in present:
            present[text] = int(api.create_label_type(project_id, kind, text, color=color, suffix_key=key)["id"])
    return present


def ensure_members(api: DoccanoAPI, project_id: int, usernames: Iterable[str], role: str = "annotator") -> None:
    """Add each user to the project with `role` (users already members keep their role)."""
    present = {member["username"] for member in api.list_members(project_id)}
    for username in usernames:
        if username not in present:
            api.add_member(project_id, username, role)


def examples_by_post(api: DoccanoAPI, project_id: int) -> dict[str, list[tuple[int, str | None]]]:
    """{post id: [(example id, text), ...]} of what the project holds, from one export (much faster than
    paging through /examples). More than one entry for a post means a duplicate upload."""
    from cmner_build.annotate.doccano.examples import read_export_zip

    files = read_export_zip(api.export_zip(project_id))
    any_member = next(iter(files.values()))  # every member's file lists every example
    held: dict[str, list[tuple[int, str | None]]] = {}
    for example in any_member:
        if example.post_id is not None and example.example_id is not None:
            held.setdefault(example.post_id, []).append((int(example.example_id), example.text))
    for entries in held.values():
        entries.sort()
    return held
