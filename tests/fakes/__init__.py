"""Loopback servers that behave like the real ones, as documented: GitHub, GitLab, and a
plain HTTP server with a route table."""
