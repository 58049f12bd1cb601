"""`python -m schemaflow`."""

from .cli import main

main()
