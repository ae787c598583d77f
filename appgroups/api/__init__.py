"""The Braze-compatible REST API mounted at /api/ (plumbing in appgroups.rest)."""
