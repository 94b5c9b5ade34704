"""KubeBench: measure and improve how well LLMs write Kubernetes configuration."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kubebench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"
