"""Authoring the shipped splits: the seeded generator (`gen_*` scenarios, `drafting`'s
toolbox), the data files it draws from (`data/`), and the mutations and rewrites that
self-validation grades. Nothing here runs when a benchmark is run."""
