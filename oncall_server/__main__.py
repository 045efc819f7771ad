"""``python -m oncall_server``: the same as the ``oncall-server`` command."""

import sys

from ._cli import main

sys.exit(main())
