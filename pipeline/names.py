"""The pipeline's schedule defaults, defined once for the scheduler and the CLI.

Standard library only: ``kinhub schedule --help`` shows the default without
importing the tick (which imports the crawler, the Hub client and the database).
"""

from __future__ import annotations

DEFAULT_CRON = "0 3 * * *"
"""When the nightly tick runs by default: a crontab expression, in UTC (03:00 daily)."""
