"""Models that answer tasks: the provider protocol, registry and implementations."""
