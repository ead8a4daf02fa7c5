"""The model mlgate trains: ``estimator: tumor.model:make_model`` in mlgate.yaml.

mlgate calls ``make_model(**params)`` with the ``params`` from mlgate.yaml, then fits the
result on the training data and scores it on the test data.
"""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def make_model(C: float = 1.0, max_iter: int = 500, **kw: Any) -> Pipeline:
    """Standardize the 30 measurements, then a logistic regression.

    ``C`` is the inverse regularization strength: smaller means a simpler model. Extra
    keyword arguments go to LogisticRegression (for example ``class_weight``).
    """
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=C, max_iter=max_iter, **kw)),
        ]
    )
