"""The `kubebench` command: one module per command group, each exposing `register(app)`.

CLI modules parse arguments and call library functions, nothing more.
"""
