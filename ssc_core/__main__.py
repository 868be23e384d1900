import sys

from ssc_core.cli import main

sys.exit(main())
