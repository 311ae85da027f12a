import sys

from skyield.cli import main

sys.exit(main())
