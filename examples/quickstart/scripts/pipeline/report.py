"""Pipeline step 4: a report over every region's model (KAIROS_INPUTS/train/<region>/model.json)."""
import json
import os

root = os.path.join(os.environ["KAIROS_INPUTS"], "train")
lines = ["# Models by region", ""]
for region in sorted(os.listdir(root)):
    with open(os.path.join(root, region, "model.json")) as f:
        m = json.load(f)
    lines.append(f"- {region}: baseline {m['baseline']:.2f}")
with open(os.path.join(os.environ["KAIROS_ARTIFACTS"], "report.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
