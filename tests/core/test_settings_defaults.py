"""The commented cmner.toml that `init` writes shows each stage's defaults; the stages' settings modules
hold them. Reading that file must give exactly what reading an empty one gives, or the two drifted."""

from __future__ import annotations

from types import SimpleNamespace

from cmner_build.annotate.agreement.gate import GateSettings
from cmner_build.annotate.settings import agreement_settings, annotate_settings, doccano_settings
from cmner_build.baselines.settings import baseline_settings
from cmner_build.clean.settings import CleanOptions, ImageOptions
from cmner_build.config import Settings, default_settings
from cmner_build.crawl.settings import crawl_settings
from cmner_build.stats.audit.settings import audit_settings
from cmner_build.stats.card import card_settings


def test_the_commented_cmner_toml_matches_every_stages_defaults(tmp_path):
    written, empty = default_settings(), Settings({})
    assert crawl_settings(written, {}) == crawl_settings(empty, {})
    assert ImageOptions.from_settings(written) == ImageOptions.from_settings(empty)
    assert (CleanOptions.from_settings(written, tmp_path).fingerprint
            == CleanOptions.from_settings(empty, tmp_path).fingerprint)
    assert GateSettings.from_settings(written) == GateSettings.from_settings(empty)
    assert agreement_settings(written) == agreement_settings(empty)
    assert baseline_settings(written) == baseline_settings(empty)
    assert audit_settings(written) == audit_settings(empty)
    assert card_settings(written) == card_settings(empty)
    for read in (annotate_settings, doccano_settings):
        assert (read(SimpleNamespace(settings=written, root=tmp_path, config_path=tmp_path / "cmner.toml"))
                == read(SimpleNamespace(settings=empty, root=tmp_path, config_path=tmp_path / "cmner.toml")))
    assert (written.topics, written.max_chars, written.seed, written.split_ratio, written.near_duplicate_jaccard) == (
        empty.topics, empty.max_chars, empty.seed, empty.split_ratio, empty.near_duplicate_jaccard)


def test_audit_and_card_tables_are_accepted_and_read(tmp_path):
    from cmner_build.config import load_settings

    path = tmp_path / "cmner.toml"
    path.write_text('[audit]\nfolds = 5\n\n[card]\nlicense = "cc-by-nc-4.0"\n', encoding="utf-8")
    settings = load_settings(path)
    assert audit_settings(settings).folds == 5
    assert card_settings(settings).license == "cc-by-nc-4.0"
