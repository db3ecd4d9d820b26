"""meta_alignment diagrams (figs 1-4, 8, 9): rows come from the task objects; bad parameters fail in one line."""
import pytest

from repro.experiments.meta_alignment import diagrams as D


def rows(fn, **p):
    return list(fn(p, None))


def test_graph_rows_follow_the_objects():
    r = rows(D.modality_task_graph, families=["text_to_image", "image_to_audio", "text_to_speech"],
             shared_modalities=True)
    nodes = {x["node"] for x in r if x["metric"] == "node"}
    assert {"text", "image", "audio", "speech"} <= nodes
    assert sorted(x["route"] for x in r if x["metric"] == "path") == ["x_t>x_s>y_s>y_t"] * 3


def test_cluster_rows_and_split():
    r = rows(D.weak_clusters, family="image_to_audio")
    assert sum(x["metric"] == "cluster" for x in r) == 17
    assert {x["split"]: x["value"] for x in r if x["metric"] == "split_classes"} == {"train": 12, "val": 8, "test": 9}


@pytest.mark.parametrize("fn,p,msg", [
    (D.weak_clusters, {"family": "text_to_image"}, "needs a weak-pair family"),
    (D.pairs_and_training, {"strong_family": "image_to_audio", "weak_family": "digits_weak", "n_clusters": 1},
     "strong_family must have strong pairs"),
    (D.pairs_and_training, {"strong_family": "synth_strong", "weak_family": "digits_weak", "n_clusters": 1,
                            "clf_updates": "some"}, "clf_updates must be one of"),
    (D.paradigm, {"family": "nope"}, "unknown task family")])
def test_bad_parameters(fn, p, msg):
    with pytest.raises(ValueError, match=msg):
        rows(fn, **p)
