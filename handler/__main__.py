"""`python -m handler` runs the CLI."""

from handler.cli import main

raise SystemExit(main())
