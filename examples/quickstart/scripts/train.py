"""Trains a toy model; its parameters arrive typed and validated as KAIROS_PARAM_* variables."""
import os

from common import artifacts_dir, read_rows, report_metric

dataset = os.environ["KAIROS_PARAM_DATASET"]
epochs = int(os.environ["KAIROS_PARAM_EPOCHS"])
lr = float(os.environ["KAIROS_PARAM_LEARNING_RATE"])
as_of = os.environ.get("KAIROS_PARAM_AS_OF", "")

rows = read_rows("sensors.csv" if dataset == "sensors" else "sales.csv")
print(f"training on {dataset} ({len(rows)} rows) for {epochs} epochs at lr={lr}" + (f", data up to {as_of}" if as_of else ""))
loss = 1.0
for epoch in range(1, epochs + 1):
    loss *= 1 - lr
    report_metric("loss", round(loss, 5), step=epoch)
(artifacts_dir() / "model.txt").write_text(f"dataset={dataset}\nepochs={epochs}\nlr={lr}\nfinal_loss={loss:.5f}\n")
