"""The benchmark's tasks: schema, seeded generator, shipped splits. Imports no other room."""
