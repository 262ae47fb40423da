"""gazette: a static-site generator for official government gazettes."""

__version__ = "0.1.0"
