"""Output: the report (markdown, text, JSON), the model card, history tables and charts,
and the Jinja templates they render from."""
