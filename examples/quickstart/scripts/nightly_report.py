"""Summarises sales per region into a Markdown report, kept as an artifact of the run."""
import os
from collections import defaultdict

from common import artifacts_dir, read_rows, report_metric

totals = defaultdict(float)
for row in read_rows("sales.csv"):
    totals[row["region"]] += float(row["amount"])

lines = ["# Sales by region", "", f"logical time: {os.environ.get('KAIROS_SCHEDULED_FOR', '(ad hoc)')}", ""]
for region, amount in sorted(totals.items()):
    lines.append(f"- {region}: {amount:.2f}")
    print(f"{region:>8}: {amount:10.2f}")
(artifacts_dir() / "report.md").write_text("\n".join(lines) + "\n")
report_metric("total_sales", round(sum(totals.values()), 2))
