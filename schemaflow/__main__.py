"""`python -m schemaflow`."""

from .launch import main

main()
