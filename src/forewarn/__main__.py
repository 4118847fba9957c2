"""Allow ``python -m forewarn``."""

from forewarn.cli import main

raise SystemExit(main())
