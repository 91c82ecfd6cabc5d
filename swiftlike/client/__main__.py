"""python -m swiftlike.client ... is the `swiftlike` command."""
import sys

from swiftlike.client.cli import main

if __name__ == '__main__':
    sys.exit(main())
