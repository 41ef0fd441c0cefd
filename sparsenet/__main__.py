"""``python -m sparsenet``: the ``sparsenet`` command line."""

from sparsenet.cli.main import main

main()
