"""The authors' reference CSVs (repro/data/reference.py): location, override, the catalog's values."""
import pytest

from repro.data.download import DataMissing
from repro.data.reference import load_laprop_reference, reference_root


def test_transformer_reference_has_the_catalogs_runs_and_values():
    df = load_laprop_reference("transformer_train_loss")
    counts = df.groupby(["task", "optimizer", "beta2", "warmup"]).size()
    assert counts.loc["iwslt14_de_en"].tolist() == [600] * 4
    assert len(counts.loc["roberta_base_wikipedia"]) == 7 and set(counts.loc["roberta_base_wikipedia"]) == {200}
    at = df.set_index(["task", "optimizer", "beta2", "warmup", "update"])["train_loss_bits_mean"]
    assert abs(at["iwslt14_de_en", "adam", 0.98, False, 60000] - 9.4501) <= 1e-4
    assert abs(at["roberta_base_wikipedia", "laprop", 0.999, False, 20000] - 3.3407) <= 1e-4


def test_env_override_and_one_line_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))
    assert reference_root() == tmp_path.resolve()
    with pytest.raises(DataMissing) as e:
        load_laprop_reference("rainbow_breakout_eval.csv")
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
    (tmp_path / "laprop").mkdir()
    (tmp_path / "laprop" / "rainbow_breakout_eval.csv").write_text("game,optimizer\nBreakout,adam\n")
    assert load_laprop_reference("rainbow_breakout_eval").shape == (1, 2)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="transformer_train_loss"):
        load_laprop_reference("nope")
