"""The ``swarmgen`` command line: thin commands that build settings and call services."""
