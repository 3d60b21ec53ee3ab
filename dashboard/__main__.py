"""`python -m dashboard …` runs the command line (`dashboard.cli.main`)."""

from dashboard.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
