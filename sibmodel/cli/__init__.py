"""The `sibmodel` command line: thin wrappers around the library."""
