from cmner_build.baselines.settings import BaselineSettings, baseline_settings
from cmner_build.config import Settings, default_settings


def test_the_commented_cmner_toml_shows_the_defaults_the_code_uses():
    assert baseline_settings(default_settings()) == BaselineSettings()
    assert baseline_settings(Settings({})) == BaselineSettings()


def test_a_workspace_value_wins():
    chosen = baseline_settings(Settings({"baselines": {"encoder": "/models/vit", "device": "cpu"}}))
    assert (chosen.encoder, chosen.bert, chosen.device) == ("/models/vit", BaselineSettings().bert, "cpu")
