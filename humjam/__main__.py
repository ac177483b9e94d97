import sys

from humjam.cli import main

sys.exit(main())
