import hashlib

import pytest

from repro.data.download import DataMissing, require


def test_present_file_with_good_checksum(tmp_path):
    f = tmp_path / "set" / "a.bin"
    f.parent.mkdir()
    f.write_bytes(b"hello")
    good = hashlib.sha256(b"hello").hexdigest()
    assert require(tmp_path, "set/a.bin", sha256=good) == f
    with pytest.raises(DataMissing, match="wrong checksum"):
        require(tmp_path, "set/a.bin", sha256="0" * 64)


def test_missing_file_says_what_to_put_where(tmp_path):
    with pytest.raises(DataMissing) as e:
        require(tmp_path, "mnist/train-images-idx3-ubyte.gz", url="http://127.0.0.1:9/none.gz", timeout=2)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_the_hint_names_the_setting_and_the_variable_not_a_path(tmp_path):
    with pytest.raises(DataMissing) as e:
        require(tmp_path, "snake/market.txt")
    msg = str(e.value)
    assert "data_dir=... or the REPRO_DATA variable" in msg and "data_dir=/REPRO_DATA" not in msg
