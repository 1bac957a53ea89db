import sys

from rollbackctl.cli import main

sys.exit(main())
