"""``python -m joinedup ...``: the ``joinedup`` command, where the console script is not on ``PATH``."""

from joinedup.cli.main import main

if __name__ == "__main__":
    main()
