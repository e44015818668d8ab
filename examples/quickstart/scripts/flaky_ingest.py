"""Simulates a flaky upstream: fails about half the time. Kairos retries it with exponential backoff."""
import os
import random
import sys

attempt = os.environ.get("KAIROS_ATTEMPT", "1")
if random.random() < 0.5:
    print(f"attempt {attempt}: upstream returned 503", file=sys.stderr)
    sys.exit(75)
print(f"attempt {attempt}: ingested 120 records")
