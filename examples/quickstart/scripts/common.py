"""Helpers shared by the quickstart jobs: reading the bundled data and reporting metrics to Kairos."""
import csv
import json
import os
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def read_rows(name):
    with open(DATA / name, newline="") as f:
        return list(csv.DictReader(f))


def report_metric(name, value, step=None):
    """Appends one metric as a JSON line to the file Kairos gives in KAIROS_OUTPUT."""
    out = os.environ.get("KAIROS_OUTPUT")
    record = {"name": name, "value": value}
    if step is not None:
        record["step"] = step
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
    print(f"metric {name}={value}" + (f" step={step}" if step is not None else ""))


def artifacts_dir():
    d = Path(os.environ.get("KAIROS_ARTIFACTS", "artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d
