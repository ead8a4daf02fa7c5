"""Tumor classifier: malignant or benign, from the Wisconsin breast-cancer measurements."""
