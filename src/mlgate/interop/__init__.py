"""Other tools mlgate talks to when asked: MLflow (``mlgate[mlflow]``)."""
