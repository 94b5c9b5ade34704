"""`kubebench serve`: an OpenAI-compatible chat API, a validation API on the embedded
control plane, a JSON API over tasks, runs and the leaderboard, downloads and metrics."""
