"""`fig=` takes supplement ids (S1, S2, ...) as it takes table ids (T1): resolution, ordering and the error line."""
import pytest

from repro.runner.figures import UserError, _fig_sort_key, find


def test_s_prefixed_figures_resolve_by_id_name_and_alias():
    [e], panel = find("adam_variance", "S1")
    assert (e.fig, panel) == ("S1", None)
    assert find("adam_variance", "figS9")[0][0].fig == "S9"
    [e], panel = find("adam_variance", "seeds")
    assert (e.fig, panel) == ("S1", "seeds")


def test_supplement_figures_sort_after_main_figures_and_numerically():
    figs = ["S10", "2", "S2", "T1", "10", "S1"]
    assert sorted(figs, key=_fig_sort_key) == ["2", "10", "S1", "S2", "S10", "T1"]


def test_unknown_supplement_id_names_the_valid_choices():
    with pytest.raises(UserError) as e:
        find("adam_variance", "S99")
    assert "S1" in str(e.value) and "\n" not in str(e.value)
