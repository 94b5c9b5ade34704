"""Reports of stored runs: summaries, tables, comparisons."""
