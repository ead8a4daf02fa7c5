"""Write data/train.csv and data/test.csv from scikit-learn's bundled diabetes data.

Offline and deterministic: the same release always produces the same bytes. Ten baseline
measurements (age, sex, bmi, bp, s1..s6, in their original units) and ``progression``, a
measure of disease progression one year later. The test set is the same in every release;
the training set grows:

    python prepare_data.py --release v1   # 200 training rows
    python prepare_data.py --release v2   # all 331 training rows
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

TRAIN_ROWS = {"v1": 200, "v2": None}  # None: every training row
TARGET = "progression"


def load() -> pd.DataFrame:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": TARGET})


def split(frame: pd.DataFrame, release: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fixed 75/25 split; a release takes a prefix of the (shuffled) train part."""
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    return train.iloc[: TRAIN_ROWS[release]], test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", choices=sorted(TRAIN_ROWS), default="v2")
    parser.add_argument("--out", default="data", help="output directory (default: data)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = split(load(), args.release)
    for name, part in (("train", train), ("test", test)):
        path = out / f"{name}.csv"
        part.to_csv(path, index=False)
        print(f"wrote {path}: {len(part)} rows, {part.shape[1]} columns")


if __name__ == "__main__":
    main()
