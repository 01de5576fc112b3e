"""Lets `python -m galera_exporter` behave like the `galera-exporter` command."""

from galera_exporter.cli import main

raise SystemExit(main())
