"""`python -m galera_exporter.advisor` runs galera-advisor."""

import sys

from galera_exporter.advisor.cli import main

sys.exit(main())
