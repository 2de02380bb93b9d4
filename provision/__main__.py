"""`python -m provision`: the `o2-provision` command."""

import sys

try:
    from provision.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python loads the CLI, before it can handle one itself
    sys.stderr.write("error: interrupted before any change was made\n")
    sys.exit(130)

main()
