"""``python -m pytest_llmbudget``: the ``llmbudget`` command, where no script is on PATH."""

import sys

from pytest_llmbudget.cli import main

sys.exit(main())
