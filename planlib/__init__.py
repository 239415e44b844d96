"""planlib: Jupyter planning workbooks for customer-interaction plans (客户互动管理策划书)."""

from importlib import metadata

try:
    __version__ = metadata.version("planlib")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
