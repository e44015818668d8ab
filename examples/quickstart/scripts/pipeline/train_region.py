"""Pipeline step 3, one run per region (map): a tiny per-region model, and its score as a metric."""
import json
import os

region = os.environ["KAIROS_PARAM_REGION"]
with open(os.path.join(os.environ["KAIROS_INPUTS"], "features", "features.json")) as f:
    features = json.load(f)[region]
model = {"region": region, "baseline": features["mean"]}
with open(os.path.join(os.environ["KAIROS_ARTIFACTS"], "model.json"), "w") as f:
    json.dump(model, f)
with open(os.environ["KAIROS_OUTPUT"], "a") as f:
    f.write(json.dumps({"name": "baseline", "value": features["mean"]}) + "\n")
print(f"trained {region}: baseline {features['mean']:.2f}")
