"""Scores a nearest-centroid classifier on the held-out sensor readings and reports metrics."""
import math

from common import read_rows, report_metric

rows = read_rows("sensors.csv")
train = [r for i, r in enumerate(rows) if i % 4 != 0]
test = [r for i, r in enumerate(rows) if i % 4 == 0]


def features(r):
    return (float(r["temperature"]), float(r["vibration"]))


centroids = {}
for label in sorted({r["label"] for r in train}):
    pts = [features(r) for r in train if r["label"] == label]
    centroids[label] = tuple(sum(p[i] for p in pts) / len(pts) for i in range(2))


def predict(r):
    x = features(r)
    return min(centroids, key=lambda c: math.dist(x, centroids[c]))


correct = sum(1 for r in test if predict(r) == r["label"])
accuracy = correct / len(test)
print(f"evaluated {len(test)} held-out readings against {len(centroids)} centroids")
report_metric("accuracy", round(accuracy, 4))
report_metric("test_size", len(test))
