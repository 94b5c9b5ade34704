"""The benchmark runner: plan, generate, grade, judge, store, resume."""
