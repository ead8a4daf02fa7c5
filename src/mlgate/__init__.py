"""mlgate: GitOps CI/CD for machine-learning repositories."""

__version__ = "0.1.0"
