"""Pipeline step 2: build per-region features from the upstream step's artifact (KAIROS_INPUTS/extract/)."""
import csv
import json
import os
from collections import defaultdict

src = os.path.join(os.environ["KAIROS_INPUTS"], "extract", "sales.csv")
by_region = defaultdict(list)
with open(src) as f:
    for row in csv.DictReader(f):
        by_region[row["region"]].append(float(row["amount"]))
features = {r: {"n": len(v), "mean": sum(v) / len(v)} for r, v in by_region.items()}
with open(os.path.join(os.environ["KAIROS_ARTIFACTS"], "features.json"), "w") as f:
    json.dump(features, f)
print(f"features for {', '.join(sorted(features))}")
