"""`python -m dashboard …` runs the command line (`dashboard.cli.commands`)."""

from dashboard.cli.commands import main

if __name__ == "__main__":
    raise SystemExit(main())
