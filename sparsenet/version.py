"""The version of sparsenet: the one string the package, its wheel and `sparsenet --version` read."""

__version__ = "0.6.1"
