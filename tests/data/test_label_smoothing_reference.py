"""label_smoothing's reference grids (repro/data/reference.py): the shared files (CI has ../shared beside the
checkout) against the catalog's numbers, and a small generated file for selection, rounding and errors."""
import pytest

from repro.data.download import DataMissing
from repro.data.reference import LABEL_SMOOTHING_FILES, load_label_smoothing_reference


def test_mnist_grid_is_the_8100_run_grid_with_the_catalogs_numbers():
    df = load_label_smoothing_reference("mnist_grid_final")
    assert len(df) == 8100 and df["p"].nunique() == 90 and df["clean_rate"].nunique() == 90
    cell = df.set_index(["clean_rate", "p"])
    assert cell.loc[(0.5, 1.0), "test_acc_last"] == pytest.approx(55.15, abs=1e-9)     # catalog fig=1, fig=9
    assert cell.loc[(0.2, 1.0), "test_loss_last"] == pytest.approx(10.36, abs=0.01)    # catalog fig=3
    sub = load_label_smoothing_reference("mnist_grid_final", step=0.05, p_min=0.15)
    assert len(sub) == 18 * 18 and sub["p"].min() == 0.15 and sub["clean_rate"].max() == 1.0
    assert sub.groupby("clean_rate")["test_acc_last"].max().loc[0.2] == pytest.approx(90.72, abs=1e-9)


def test_curves_and_april_grid():
    cur = load_label_smoothing_reference("mnist_grid_curves")
    assert len(cur) == 32400 and set(cur["epoch"]) == set(range(1, 101))
    run = cur[(cur["clean_rate"] == 0.5) & (cur["p"] == 1.0)]
    assert run["test_acc"].idxmax() == run.index[run["epoch"] == 10][0]                 # catalog fig=6: peak at 10
    apr = load_label_smoothing_reference("mnist_grid_apr2020_final")
    assert len(apr) == 324


def test_generated_file_rounding_selection_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))
    with pytest.raises(DataMissing) as e:
        load_label_smoothing_reference("mnist_grid_final")
    assert "\n" not in str(e.value) and "label_smoothing/mnist_grid_final.csv" in str(e.value)
    (tmp_path / "label_smoothing").mkdir()
    rows = ["p,noise_rate,clean_rate,test_acc_last,test_loss_last,test_acc_best_epoch"]
    for p in (0.11, 0.15, 0.2, 0.30000000000000004):
        for a in (0.1, 0.5, 0.55):
            rows.append(f"{p},{1 - a},{a},90.0,1.0,10")
    (tmp_path / "label_smoothing" / "mnist_grid_final.csv").write_text("\n".join(rows) + "\n")
    df = load_label_smoothing_reference("mnist_grid_final.csv")
    assert len(df) == 12 and 0.3 in set(df["p"])
    sub = load_label_smoothing_reference("mnist_grid_final", step=0.05, p_min=0.15)
    assert sorted(set(sub["p"])) == [0.15, 0.2, 0.3] and sorted(set(sub["clean_rate"])) == [0.5, 0.55]
    (tmp_path / "label_smoothing" / "mnist_grid_curves.csv").write_text("p,clean_rate\n0.2,0.5\n")
    with pytest.raises(ValueError, match="epoch"):
        load_label_smoothing_reference("mnist_grid_curves")
    with pytest.raises(ValueError, match="mnist_grid_final"):
        load_label_smoothing_reference("nope")
    assert "cifar10_grid_final" in LABEL_SMOOTHING_FILES
