"""Bytes on disk and elsewhere: the cache layout, atomic files, hashing, the content-
addressed objects and their backends, pointers, the stat cache, tabular formats, DVC and
model files."""
