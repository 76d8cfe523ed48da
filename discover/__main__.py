"""``python -m discover``: the same command line as ``discover``."""

from discover.cli import main

if __name__ == "__main__":
    main()
