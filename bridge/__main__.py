"""Allow ``python -m bridge`` as a synonym for the ``icop`` console script."""

from bridge.cli import main

raise SystemExit(main())
