"""The Snake paper's real-series loaders parse files generated in exactly the catalog's formats (D2-D5)."""
import json

import numpy as np
import pandas as pd
import pytest

from repro.data import snake_series as S
from repro.data.download import DataMissing


def put(tmp_path, name, text, newline=""):
    path = tmp_path / "snake" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline=newline) as f:
        f.write(text)
    return path


@pytest.mark.parametrize("loader,kw,name", [
    (S.load_temperature, {}, "day_temp_atmospheric.csv"),
    (S.load_temperature, {"variant": "toar_json"}, "10_year_temp_data.json"),
    (S.load_market, {}, "market.txt"),
    (S.load_market, {"variant": "total_return_csv"}, "IndexHistory_19950101.csv"),
    (S.load_eurusd, {}, "eurusd.csv"),
    (S.load_body_temperature, {}, "body_temperature.csv"),
])
def test_missing_real_file_raises_one_line(tmp_path, loader, kw, name):
    with pytest.raises(DataMissing) as e:
        loader(tmp_path, source="real", **kw)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "snake" / name) in msg


def test_authors_temperature_csv(tmp_path):
    # the authors' layout: LF, header DaySince2009,TempWeek, 3,287 rows of day and a float
    rng = np.random.default_rng(0)
    d = np.arange(3287)
    t = 25.7 + 3.4 * np.sin(2 * np.pi * d / 365.25) + rng.normal(0, 0.5, size=3287)
    body = "".join(f"{a},{b!r}\n" for a, b in zip(d, t.tolist()))
    path = put(tmp_path, "day_temp_atmospheric.csv", "DaySince2009,TempWeek\n" + body)
    assert b"\r\n" not in path.read_bytes()
    df = S.load_temperature(tmp_path, source="real")
    assert len(df) == 3287 and df["day"].iloc[-1] == 3286 and np.allclose(df["temp"], t)
    w = S.weekly_pipeline(df)
    assert len(w.temp) == 469 and w.n_train == 312
    assert np.isclose(w.x[0], 3 / 365) and np.isclose(w.temp[0], t[:7].mean())
    assert np.isclose(w.y.mean(), 1.0) and np.isclose(w.scale, w.temp.mean())
    assert np.isclose(w.x[w.n_train], (312 * 7 + 3) / 365)          # the first held-out week, ~5.99 years


def test_authors_temperature_csv_rejects_other_headers(tmp_path):
    put(tmp_path, "day_temp_atmospheric.csv", "day,temp\n0,25.0\n")
    with pytest.raises(ValueError, match="DaySince2009"):
        S.load_temperature(tmp_path, source="real")


def test_toar_json_cleaning_rule(tmp_path):
    dates = pd.date_range("2008-01-01", "2017-12-31", freq="D")
    assert len(dates) == 3653
    mean = np.full(len(dates), 26.0)
    s = pd.Series(mean, index=dates)
    s["2008-09-05":"2008-09-10"] = -99.9          # hourly fills averaged in
    s["2013-11-25"] = -22.12
    s["2012-07-03"] = 12.00
    s["2010-06-01"] = 33.0                        # a real warm day: kept and smoothed
    obj = {"metadata": {f"field{i}": i for i in range(60)},
           "datetime": [d.strftime("%Y-%m-%d 00:00") for d in dates], "mean": s.tolist()}
    put(tmp_path, "10_year_temp_data.json", json.dumps(obj))
    df = S.load_temperature(tmp_path, source="real", variant="toar_json")
    assert len(df) == 3287 and df["day"].iloc[0] == 0 and df["day"].iloc[-1] == 3286
    day = (pd.Timestamp("2010-06-01") - pd.Timestamp("2009-01-01")).days
    assert np.isclose(df.set_index("day").loc[day, "temp"], 26 + 7 / 7)          # (6 x 26 + 33) / 7
    assert df["temp"].min() == 26.0 and len(S.weekly_pipeline(df).temp) == 469   # fills removed


def test_market_txt_format(tmp_path):
    # CRLF, 2 decimals, 6,397 values and 232 #N/A lines interleaved, then 11 empty lines
    rng = np.random.default_rng(1)
    values = np.round(4529.05 * np.exp(np.cumsum(rng.normal(3e-4, 0.0115, size=6397))), 2)
    na = set(rng.choice(6629, size=232, replace=False).tolist())
    it, lines = iter(values), []
    for i in range(6629):
        lines.append("#N/A" if i in na else f"{next(it):.2f}")
    text = "\r\n".join(lines) + "\r\n" + "\r\n" * 11
    path = put(tmp_path, "market.txt", text)
    assert path.read_bytes().count(b"\r\n") == 6629 + 11
    v, n_na = S.load_market(tmp_path, source="real")
    assert len(v) == 6397 and n_na == 232 and np.allclose(v, values)
    m = S.market_pipeline(v)
    assert m.y.max() == 1.0 and np.isclose(m.x[-1], 1.0) and m.n_train == 6300
    assert S.TEST_END - S.TEST_START == 82


def test_total_return_csv_format(tmp_path):
    rows = [f'"{d:%Y%m%d}","{r:.4f}","{lv:.2f}"' for d, r, lv in
            zip(pd.bdate_range("1995-01-03", periods=6400), np.linspace(-1, 1, 6400), np.linspace(13.45, 15.0, 6400))]
    text = '"Wilshire 5000 Total Market Index"\n"Index Dates","Period Return","Index Values"\n' + "\n".join(rows) \
        + '\n\n"Copyright footer"\n'
    put(tmp_path, "IndexHistory_19950101.csv", text, newline="\n")
    v, n_na = S.load_market(tmp_path, source="real", variant="total_return_csv")
    assert len(v) == 6400 and np.isclose(v[0], 13.45) and np.isclose(v[-1], 15.0) and n_na == 0


def test_eurusd_and_body_csv(tmp_path):
    put(tmp_path, "eurusd.csv", "year,rate\n" + "".join(f"{2010 + k / 52:.4f},{1.43 - k / 1e4:.4f}\n" for k in range(60)))
    df = S.load_eurusd(tmp_path, source="real")
    assert df.shape == (60, 2) and df["rate"].iloc[1] == 1.4299
    put(tmp_path, "body_temperature.csv", "hour,celsius\n0,35.95\n9,36.50\n")
    assert S.load_body_temperature(tmp_path, source="real")["celsius"].tolist() == [35.95, 36.5]
    emb = S.load_body_temperature(source="embedded")
    assert len(emb) == 25 and emb["hour"].iloc[-1] == 230 and np.isclose(emb["celsius"].mean(), 36.6144)


def test_standins_go_through_the_same_parsers_with_matching_statistics():
    df = S.load_temperature(None, source="synthetic", seed=0)
    assert len(df) == 3287
    w = S.weekly_pipeline(df)
    X = np.c_[np.ones_like(w.x), w.x, np.sin(2 * np.pi * w.x), np.cos(2 * np.pi * w.x)]
    c, *_ = np.linalg.lstsq(X, w.temp, rcond=None)
    r = w.temp - X @ c
    assert abs(w.temp.mean() - 25.72) < 0.5 and abs(np.hypot(c[2], c[3]) - 3.44) < 0.5
    assert 0.7 < r.std() < 1.2 and 0.6 < np.corrcoef(r[1:], r[:-1])[0, 1] < 0.85
    toar = S.load_temperature(None, source="synthetic", variant="toar_json")
    assert len(toar) == 3287 and toar["temp"].min() > 15
    v, n_na = S.load_market(None, source="synthetic", seed=0)
    assert len(v) == 6397 and n_na == 232
    y = v / v.max()
    assert 0.005 < y[S.TEST_START:].var() < 0.02                    # the real test window: 0.0080
    assert S.market_standin_text(0).endswith("\r\n" * 12)
    e = S.load_eurusd(None, source="synthetic")
    assert len(e) == 366 and 1.05 < e["rate"].iloc[262:].mean() < 1.16
    b = S.load_body_temperature(None, source="synthetic")
    assert b["hour"].tolist() == S.BODY_HOURS and abs(b["celsius"].mean() - 36.6) < 0.2


# issue 15, item 6: each loader validates what it reads; one line naming the file and what is wrong
@pytest.mark.parametrize("name,text,loader,kw,expect", [
    ("market.txt", "garbage\r\nmore garbage\r\n\x00\x01", S.load_market, {}, "0 values parse as prices"),
    ("market.txt", "\r\n".join(["100.5"] * 6000), S.load_market, {}, "6000 values parse as prices"),
    ("eurusd.csv", "year,rate\n2010.0,1.3\n2010.1,1.31\n2010.2,1.32\n", S.load_eurusd, {}, "3 rows; need at least 53"),
    ("eurusd.csv", "year,rate\n2010.0,1.3\n", S.load_eurusd, {"min_rows": 263}, "need at least 263"),
    ("eurusd.csv", "\x89PNG\x00garbage", S.load_eurusd, {}, "not year,rate rows"),
    ("day_temp_atmospheric.csv", "DaySince2009,TempWeek\n0,25.0\n", S.load_temperature, {}, "1 days; need at least"),
    ("IndexHistory_19950101.csv", "nonsense\n", S.load_market, {"variant": "total_return_csv"}, "not the index history"),
])
def test_bad_series_file_is_one_line_naming_it(tmp_path, name, text, loader, kw, expect):
    from repro.data.download import DataInvalid

    path = put(tmp_path, name, text)
    with pytest.raises(DataInvalid) as e:
        loader(tmp_path, source="real", **kw)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and expect in msg, msg
