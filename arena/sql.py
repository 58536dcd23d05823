"""The arena app's hand-written SQL, in one place (tests/test_sql.py checks its literals and tables).

The arena's writes go through the ORM (conditional updates); the one statement here asks PostgreSQL when it
started, which no model holds.
"""

from __future__ import annotations

# When the database server started: the reaper does not read a worker's silence from before it as death.
POSTMASTER_START_SQL = "SELECT pg_postmaster_start_time()"
