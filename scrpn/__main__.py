"""``python -m scrpn``: the same command line as the ``scrpn`` console script."""
from scrpn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
