"""Write data/train.csv and data/test.csv from scikit-learn's bundled breast-cancer data.

Offline and deterministic: the same release always produces the same bytes, so the same
data pointers. The test set is the same in every release; the training set grows:

    python prepare_data.py --release v1   # 200 training rows: the first data drop
    python prepare_data.py --release v2   # all 398 training rows: "new data arrived"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

TRAIN_ROWS = {"v1": 200, "v2": None}  # None: every training row
TARGET = "diagnosis"


def load() -> pd.DataFrame:
    """The 569 samples: 30 measurements (snake_case names) and a text diagnosis."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda c: c.replace(" ", "_"))
    frame[TARGET] = np.where(bunch.target == 0, "malignant", "benign")
    return frame


def split(frame: pd.DataFrame, release: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fixed, stratified 70/30 split; a release takes a prefix of the (shuffled) train part."""
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame[TARGET])
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
