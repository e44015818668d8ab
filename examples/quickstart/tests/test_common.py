"""Tests of the quickstart's shared helpers; `kairos check` runs them in the `analysis` environment."""
import json
import os
import tempfile
import unittest

from scripts import common


class CommonTest(unittest.TestCase):
    def test_reads_bundled_data(self):
        rows = common.read_rows("sales.csv")
        self.assertGreater(len(rows), 0)

    def test_metric_is_one_json_line(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.jsonl")
            os.environ["KAIROS_OUTPUT"] = out
            try:
                common.report_metric("accuracy", 0.9, step=1)
            finally:
                del os.environ["KAIROS_OUTPUT"]
            with open(out) as f:
                self.assertEqual(json.loads(f.readline()), {"name": "accuracy", "value": 0.9, "step": 1})


if __name__ == "__main__":
    unittest.main()
