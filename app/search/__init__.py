"""Full-text search over cases, their timelines and artifacts, and lookup by hash."""
