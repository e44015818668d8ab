"""Pipeline step 1: extract the day's sales (the pipeline run's logical time) into an artifact."""
import csv
import os
import random

day = os.environ.get("KAIROS_PARAM_DATE") or os.environ["KAIROS_SCHEDULED_FOR"][:10]
out = os.path.join(os.environ["KAIROS_ARTIFACTS"], "sales.csv")
rng = random.Random(day)
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["region", "amount"])
    for region in ["eu", "us", "asia"]:
        for _ in range(50):
            w.writerow([region, round(rng.uniform(1, 100), 2)])
print(f"extracted 150 rows for {day} into sales.csv")
