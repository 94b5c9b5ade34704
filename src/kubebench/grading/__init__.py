"""From answer text to verdict: extraction, safe parsing, scope, dry-run, apply, checks."""
