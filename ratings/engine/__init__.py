"""The rating engine: numpy/scipy over vote arrays, no Django (see leaderboard.rate for the entry point)."""
