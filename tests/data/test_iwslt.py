"""IWSLT14 loader (repro/data/iwslt.py) on small files in the prepare-iwslt14.sh format, and the batching."""
import pytest
import torch

from repro.data.download import DataMissing
from repro.data.iwslt import (BOS, EOS, FOLDER, PAD, UNK, Dictionary, collate, load_iwslt, reverse_task,
                              token_batches, write_fixture)


def test_dictionary_has_fairseqs_layout():
    vocab = Dictionary.build([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab.symbols[:7] == ["<s>", "<pad>", "</s>", "<unk>", "b", "a", "c"]
    assert len(vocab) % 8 == 0 and vocab.symbols[7] == "madeupword0000"
    assert vocab.encode(["a", "zzz"]).tolist() == [5, UNK, EOS]
    assert (BOS, PAD, EOS, UNK) == (0, 1, 2, 3)


def test_loader_reads_the_prepared_files(tmp_path):
    write_fixture(tmp_path, n_train=50)
    d = load_iwslt(tmp_path, splits=("train", "valid"))
    src, tgt = d["train"]
    assert len(src) == len(tgt) == 50 and len(d["valid"][0]) == 20
    lines = (tmp_path / FOLDER / "train.de").read_text(encoding="utf-8").splitlines()
    assert [d["src_vocab"].symbols[i] for i in src[0][:-1].tolist()] == lines[0].split()
    assert src[0][-1] == EOS and tgt[0][-1] == EOS
    assert "sch@@" in d["src_vocab"].index and "esch@@" in d["tgt_vocab"].index


def test_missing_files_stop_with_one_line(tmp_path):
    with pytest.raises(DataMissing) as e:
        load_iwslt(tmp_path)
    assert "\n" not in str(e.value) and f"{FOLDER}/train.de" in str(e.value) and "prepare-iwslt14" in str(e.value)


def test_token_batches_cover_every_sentence_once_within_max_tokens():
    gen = torch.Generator().manual_seed(0)
    src_lens = torch.randint(2, 30, (500,), generator=gen)
    tgt_lens = torch.randint(2, 30, (500,), generator=gen)
    batches = token_batches(src_lens, tgt_lens, 200, gen)
    seen = torch.cat(batches).sort().values
    assert torch.equal(seen, torch.arange(500))
    for b in batches:
        assert len(b) * int(torch.maximum(src_lens[b], tgt_lens[b]).max()) <= 200


def test_collate_shifts_the_target_right_with_eos_first():
    src, tgt = reverse_task(3, 4, 10, torch.Generator().manual_seed(0))
    assert torch.equal(tgt[0][:-1], src[0][:-1].flip(0))
    s, prev, t = collate(src, [tgt[0], tgt[1][:3], tgt[2]])
    assert prev[0, 0] == EOS and torch.equal(prev[0, 1:], t[0, :-1])
    assert t[1, 3:].eq(PAD).all() and prev[1, 3:].eq(PAD).all()
