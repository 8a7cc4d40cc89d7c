"""pvigroup: group NLP tasks for multi-task learning by pointwise V-usable information."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pvigroup")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
