"""The benchmark's tasks: schema, loader, selection and the shipped splits; `authoring/`
generates them. Imports no other room."""
