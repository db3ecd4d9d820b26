"""Real time series of the Snake paper (catalog snake.md, "Data files and loaders", D2-D5), their parsers, and
seeded synthetic stand-ins written in exactly the same file formats (so that both go through the same parser).

Files (read from <data_dir>/snake/ under their original names; none is vendored, the authors' repository has no
licence):
  D2  day_temp_atmospheric.csv   authors' Minamitorishima file: LF, header `DaySince2009,TempWeek`, 3,287 rows
      10_year_temp_data.json     variant `toar_json`: TOAR station JSON {metadata, datetime[3653], mean[3653]}
  D3  body_temperature.csv       optional: `hour,celsius` (the 25 points are embedded below, from the official
                                 notebook; `source=embedded` is the default)
  D4  market.txt                 authors' Wilshire 5000 price index: CRLF, one value per line (2 decimals),
                                 `#N/A` on market holidays, trailing empty lines; 6,397 values
      IndexHistory_19950101.csv  variant `total_return_csv` (the MLRC reproduction's file; not the paper's series)
  D5  eurusd.csv                 two columns `year,rate` (the paper does not give its source)

`load_*(data_dir, source=...)`: source="real" reads the file (a missing one raises DataMissing, one line);
source="synthetic" builds the stand-in's file text from `seed` and parses it with the same parser.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from repro.data.download import DataInvalid, require

SUBDIR = "snake"
FILES = {
    "temperature": "day_temp_atmospheric.csv",
    "temperature_toar": "10_year_temp_data.json",
    "body": "body_temperature.csv",
    "market": "market.txt",
    "market_total_return": "IndexHistory_19950101.csv",
    "eurusd": "eurusd.csv",
}


def _real_path(data_dir, key: str):
    return require(data_dir, f"{SUBDIR}/{FILES[key]}")


def _read_real(data_dir, key: str) -> str:
    path = _real_path(data_dir, key)
    try:
        with open(path, newline="") as f:      # keep CRLF visible to the parsers
            return f.read()
    except UnicodeDecodeError:
        raise DataInvalid(f"{path}: not a text file (undecodable bytes)") from None


def _parse_real(data_dir, key: str, parse, what: str):
    """parse(text of the real file); any parser error becomes one DataInvalid line naming the file."""
    text = _read_real(data_dir, key)
    try:
        return parse(text)
    except Exception as e:
        msg = " ".join(str(e).split())[:200]
        raise DataInvalid(f"{_real_path(data_dir, key)}: not {what} ({type(e).__name__}: {msg})") from None


def _check_series(data_dir, key: str, values, need: int, what: str) -> None:
    """A real series must have at least `need` finite values (a minimum length: the figure's split needs them)."""
    values = np.asarray(values, dtype=float)
    n_ok = int(np.isfinite(values).sum())
    if len(values) < need or n_ok < len(values):
        bad = f", {len(values) - n_ok} not finite" if n_ok < len(values) else ""
        raise DataInvalid(f"{_real_path(data_dir, key)}: {len(values)} {what}{bad}; need at least {need} finite values")


MIN_TEMPERATURE_DAYS = 7 * 313   # the official split trains on the first 312 weeks and tests after them
MIN_EURUSD = 53                  # a year of weekly points and one more (the figure asks n_train + 1, see load_eurusd)


# ----------------------------------------------------------------------------------------------------------------
# D2: Minamitorishima atmospheric temperature
# ----------------------------------------------------------------------------------------------------------------

def parse_temperature_csv(text: str) -> pd.DataFrame:
    """The authors' `day_temp_atmospheric.csv`: columns day (0..3286 = 2009-01-01..2017-12-31) and temp (deg C)."""
    df = pd.read_csv(io.StringIO(text))
    if list(df.columns) != ["DaySince2009", "TempWeek"]:
        raise ValueError(f"expected header DaySince2009,TempWeek, got {list(df.columns)}")
    return pd.DataFrame({"day": df["DaySince2009"].to_numpy(dtype=int), "temp": df["TempWeek"].to_numpy(dtype=float)})


def parse_toar_json(text: str, start: str = "2009-01-01", min_valid: float = 15.0) -> pd.DataFrame:
    """The TOAR station JSON (`metadata`, `datetime` "YYYY-MM-DD 00:00", daily `mean`). Cleaning rule (catalog): drop
    daily values < 15 deg C (the -99.9 fills and partly contaminated days), take the centred 7-day running mean of
    what is left, keep the days from `start` on; day = days since `start`."""
    obj = json.loads(text)
    for key in ("metadata", "datetime", "mean"):
        if key not in obj:
            raise ValueError(f"TOAR JSON without {key!r}")
    dates = pd.to_datetime(pd.Series(obj["datetime"]), format="%Y-%m-%d %H:%M")
    values = pd.Series(np.asarray(obj["mean"], dtype=float))
    values[values < min_valid] = np.nan
    smooth = values.rolling(7, center=True, min_periods=1).mean()
    keep = dates >= pd.Timestamp(start)
    day = (dates[keep] - pd.Timestamp(start)).dt.days.to_numpy()
    return pd.DataFrame({"day": day, "temp": smooth[keep].to_numpy()}).dropna().reset_index(drop=True)


def temperature_standin_text(seed: int = 0, n_days: int = 3287) -> str:
    """Seeded stand-in in the authors' CSV format (catalog D2, a least-squares fit to the authors' file):
    y_d = 25.455 + 0.0576 d/365.25 + 3.447 sin(2 pi d/365.25 - 2.363) + m7(e)_d + N(0, 0.04^2), e AR(1) with
    phi = 0.92 and marginal sd 1.08, m7 the centred 7-day mean."""
    rng = np.random.default_rng(seed)
    phi, sd = 0.92, 1.08
    e = np.empty(n_days + 6)
    e[0] = rng.normal(0, sd)
    innov = rng.normal(0, sd * math.sqrt(1 - phi ** 2), size=len(e))
    for i in range(1, len(e)):
        e[i] = phi * e[i - 1] + innov[i]
    m7 = np.convolve(e, np.ones(7) / 7, mode="valid")            # centred: day d averages e[d..d+6] shifted by 3
    d = np.arange(n_days)
    y = 25.455 + 0.0576 * d / 365.25 + 3.447 * np.sin(2 * np.pi * d / 365.25 - 2.363) + m7[:n_days] \
        + rng.normal(0, 0.04, size=n_days)
    return "DaySince2009,TempWeek\n" + "".join(f"{i},{v!r}\n" for i, v in zip(d, y.tolist()))


def toar_standin_text(seed: int = 0) -> str:
    """A small stand-in in the TOAR JSON format: 3,653 daily means 2008-01-01..2017-12-31 (the stand-in's days,
    extended back one year), with the catalog's fill values injected (-99.9 on 2008-09-05..10, -22.12 on
    2013-11-25), so that the cleaning rule is exercised."""
    dates = pd.date_range("2008-01-01", "2017-12-31", freq="D")
    csv = parse_temperature_csv(temperature_standin_text(seed, n_days=len(dates)))
    mean = csv["temp"].to_numpy().copy()
    s = pd.Series(mean, index=dates)
    s["2008-09-05":"2008-09-10"] = -99.9
    s["2013-11-25"] = -22.12
    obj = {"metadata": {"id": 119936, "station_name": "Minamitorishima", "parameter_name": "temp",
                        "station_lon": 153.98, "station_lat": 24.28, "note": "synthetic stand-in"},
           "datetime": [d.strftime("%Y-%m-%d 00:00") for d in dates], "mean": [round(v, 3) for v in s.tolist()]}
    return json.dumps(obj)


@dataclass
class WeeklyTemperature:
    x: np.ndarray          # mean day of each 7-day block / 365 (years)
    temp: np.ndarray       # weekly mean (deg C)
    y: np.ndarray          # temp / mean(temp)
    scale: float           # mean(temp)
    n_train: int           # the first floor(365 * 6 / 7) = 312 weeks


def weekly_pipeline(df: pd.DataFrame, train_years: float = 6.0) -> WeeklyTemperature:
    """The official notebook: weekly means of non-overlapping 7-day blocks (469 weeks), X = mean day / 365,
    Y = T / mean(T), train on the first floor(365 * 6 / 7) weeks."""
    n = len(df) // 7
    day = df["day"].to_numpy(dtype=float)[: 7 * n].reshape(n, 7).mean(1)
    temp = df["temp"].to_numpy(dtype=float)[: 7 * n].reshape(n, 7).mean(1)
    scale = float(temp.mean())
    return WeeklyTemperature(x=day / 365, temp=temp, y=temp / scale, scale=scale,
                             n_train=int(365 * train_years / 7))


def load_temperature(data_dir, source: str = "synthetic", variant: str = "authors_csv", seed: int = 0) -> pd.DataFrame:
    if variant not in ("authors_csv", "toar_json"):
        raise ValueError(f"unknown temperature variant {variant!r}; choose authors_csv or toar_json")
    key, parse = (("temperature_toar", parse_toar_json) if variant == "toar_json"
                  else ("temperature", parse_temperature_csv))
    if source != "real":
        return parse(toar_standin_text(seed) if variant == "toar_json" else temperature_standin_text(seed))
    df = _parse_real(data_dir, key, parse, "the temperature series")
    _check_series(data_dir, key, df["temp"], MIN_TEMPERATURE_DAYS, "days")
    return df


# ----------------------------------------------------------------------------------------------------------------
# D3: human body temperature (25 points, official notebook)
# ----------------------------------------------------------------------------------------------------------------

BODY_HOURS = [0, 9, 39, 47, 57, 63, 71, 81, 89, 95, 105, 119, 128, 130, 137, 143, 152, 162, 177, 191, 200, 210, 215,
              225, 230]
BODY_CELSIUS = [35.95, 36.50, 36.60, 36.17, 36.50, 37.09, 37.24, 36.53, 37.25, 36.79, 36.59, 36.62, 36.45, 36.80,
                36.99, 36.19, 36.40, 37.01, 36.50, 35.70, 36.40, 36.98, 36.59, 36.65, 36.87]


def parse_body_csv(text: str) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text))
    if list(df.columns) != ["hour", "celsius"]:
        raise ValueError(f"expected header hour,celsius, got {list(df.columns)}")
    return df.astype({"hour": float, "celsius": float})


def body_standin_text(seed: int = 0) -> str:
    """The same 25 measurement hours; temperatures from a circadian curve (peak ~16 h) with the data's mean
    (36.60) and residual noise, for a stand-in with matching statistics."""
    rng = np.random.default_rng(seed)
    h = np.asarray(BODY_HOURS, dtype=float)
    c = 36.60 + 0.35 * np.cos(2 * np.pi * (h - 16) / 24) + rng.normal(0, 0.3, size=len(h))
    return "hour,celsius\n" + "".join(f"{int(a)},{b:.2f}\n" for a, b in zip(h, c))


def load_body_temperature(data_dir=None, source: str = "embedded", seed: int = 0) -> pd.DataFrame:
    if source == "embedded":
        return pd.DataFrame({"hour": np.asarray(BODY_HOURS, dtype=float), "celsius": np.asarray(BODY_CELSIUS)})
    if source != "real":
        return parse_body_csv(body_standin_text(seed))
    df = _parse_real(data_dir, "body", parse_body_csv, "hour,celsius rows")
    _check_series(data_dir, "body", df["celsius"], 2, "measurements")
    return df


# ----------------------------------------------------------------------------------------------------------------
# D4: Wilshire 5000 (price index, market.txt)
# ----------------------------------------------------------------------------------------------------------------

N_NA = 232
N_TRAIN = 6300                 # the code's training set (the text's 2020-01-31 would be 6,315)
TEST_START, TEST_END = 6315, 6397   # 2020-02-03..2020-05-29: 82 trading days


def parse_market_txt(text: str) -> tuple[np.ndarray, int]:
    """The official loader: skip lines containing "N" and lines that do not parse as a float. Returns the values
    and the number of `#N/A` lines skipped."""
    values, na = [], 0
    for line in text.splitlines():
        if "N" in line:
            na += 1
            continue
        try:
            values.append(float(line))
        except ValueError:
            continue
    return np.asarray(values, dtype=float), na


def parse_total_return_csv(text: str) -> np.ndarray:
    """The reproduction's Wilshire CSV: title line, header `"Index Dates","Period Return","Index Values"`, rows,
    footer; read as the catalog says (header=1, skipfooter=1) and return `Index Values`."""
    df = pd.read_csv(io.StringIO(text), header=1, skipfooter=1, engine="python")
    return pd.to_numeric(df["Index Values"], errors="coerce").dropna().to_numpy(dtype=float)


def market_standin_values(seed: int = 0) -> np.ndarray:
    """Catalog D4 stand-in: 6,315 training days of a GBM (7.9 %/yr drift, 18.3 %/yr volatility, V_0 = 4529.05)
    times (1 + 0.08 sin(2 pi d / 2016)); then 82 test days whose log change from the last training day is
    piecewise linear through (0, 0), (12, +0.0504), (35, -0.3797), (82, -0.0600) plus a Brownian bridge with daily
    sd 0.55/sqrt(252) between the anchors."""
    rng = np.random.default_rng(seed)
    n_tr = TEST_START
    z = rng.normal(size=n_tr - 1)
    v0 = math.log(4529.05)
    logv = np.concatenate([[v0], v0 + np.cumsum(0.079 / 252 + 0.183 / math.sqrt(252) * z)])
    d = np.arange(n_tr)
    v = np.exp(logv) * (1 + 0.08 * np.sin(2 * np.pi * d / 2016))
    anchors = [(0, 0.0), (12, 0.0504), (35, -0.3797), (82, -0.0600)]
    sig = 0.55 / math.sqrt(252)
    path = []
    for (k0, y0), (k1, y1) in zip(anchors[:-1], anchors[1:]):
        n = k1 - k0
        w = np.concatenate([[0.0], np.cumsum(rng.normal(0, sig, size=n))])
        bridge = w - np.arange(n + 1) / n * w[-1]
        lin = y0 + (y1 - y0) * np.arange(n + 1) / n
        path.append((lin + bridge)[1:])
    test = v[-1] * np.exp(np.concatenate(path))
    return np.concatenate([v, test])


def market_standin_text(seed: int = 0) -> str:
    """The stand-in in the `market.txt` format: 6,397 values with 2 decimals and 232 `#N/A` lines interleaved (at
    seeded positions), CRLF line endings, 11 empty lines at the end."""
    values = market_standin_values(seed)
    rng = np.random.default_rng(seed + 1)
    total = len(values) + N_NA
    na_at = set(rng.choice(np.arange(1, total - 1), size=N_NA, replace=False).tolist())
    lines, it = [], iter(values.tolist())
    for i in range(total):
        lines.append("#N/A" if i in na_at else f"{next(it):.2f}")
    return "\r\n".join(lines) + "\r\n" * 12


def load_market(data_dir, source: str = "synthetic", variant: str = "authors_txt", seed: int = 0):
    """(values, number of #N/A lines skipped)."""
    if variant == "total_return_csv":
        if source != "real":
            raise ValueError("the total-return variant has no stand-in; use variant=authors_txt")
        values = _parse_real(data_dir, "market_total_return", parse_total_return_csv, "the index history CSV")
        _check_series(data_dir, "market_total_return", values, N_TRAIN + 1, "index values")
        return values, 0
    if variant != "authors_txt":
        raise ValueError(f"unknown market variant {variant!r}; choose authors_txt or total_return_csv")
    if source != "real":
        return parse_market_txt(market_standin_text(seed))
    values, na = _parse_real(data_dir, "market", parse_market_txt, "one price per line")
    _check_series(data_dir, "market", values, TEST_END, "values parse as prices (one per line, #N/A on holidays)")
    if (values <= 0).any():
        raise DataInvalid(f"{_real_path(data_dir, 'market')}: {int((values <= 0).sum())} prices <= 0; index "
                          f"values are positive")
    return values, na


@dataclass
class MarketSplit:
    v: np.ndarray          # raw index values
    y: np.ndarray          # v / max(v) (the maximum over every value, test included, as the code does)
    x: np.ndarray          # (1..N) / N
    n_train: int


def market_pipeline(values: np.ndarray, n_train: int = N_TRAIN) -> MarketSplit:
    n = len(values)
    return MarketSplit(v=values, y=values / values.max(), x=np.arange(1, n + 1) / n, n_train=n_train)


# ----------------------------------------------------------------------------------------------------------------
# D5: EUR-USD weekly
# ----------------------------------------------------------------------------------------------------------------

EURUSD_ANCHORS = [(2010.24, 1.322), (2010.73, 1.321), (2011.23, 1.398), (2011.73, 1.387), (2012.22, 1.300),
                  (2012.72, 1.270), (2013.22, 1.313), (2013.72, 1.339), (2014.22, 1.371), (2014.72, 1.296),
                  (2015.22, 1.123), (2015.72, 1.106), (2016.21, 1.114), (2016.71, 1.103), (2016.98, 1.044)]


def parse_eurusd_csv(text: str) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text))
    if list(df.columns) != ["year", "rate"]:
        raise ValueError(f"expected header year,rate, got {list(df.columns)}")
    return df.astype(float)


def eurusd_standin_text(seed: int = 0) -> str:
    """366 weekly points t_k = 2010 + (k + 0.5)/52.18: the half-year means read off Fig 14, interpolated, plus
    AR(1) noise (phi = 0.71, sd 0.035)."""
    rng = np.random.default_rng(seed)
    t = 2010 + (np.arange(366) + 0.5) / 52.18
    ax, ay = zip(*EURUSD_ANCHORS)
    base = np.interp(t, ax, ay)
    phi, sd = 0.71, 0.035
    e = np.empty(len(t))
    e[0] = rng.normal(0, sd)
    for i in range(1, len(t)):
        e[i] = phi * e[i - 1] + rng.normal(0, sd * math.sqrt(1 - phi ** 2))
    return "year,rate\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in zip(t, base + e))


def load_eurusd(data_dir, source: str = "synthetic", seed: int = 0, min_rows: int = MIN_EURUSD) -> pd.DataFrame:
    """(year, rate) rows. A real file needs at least `min_rows` finite rows (the figure asks n_train + 1)."""
    if source != "real":
        return parse_eurusd_csv(eurusd_standin_text(seed))
    df = _parse_real(data_dir, "eurusd", parse_eurusd_csv, "year,rate rows")
    _check_series(data_dir, "eurusd", df["rate"], max(min_rows, MIN_EURUSD), "rows")
    return df
