"""Celery with the Redis broker (and Redis for results): each task runs /bin/true (argv, no shell) and notes
when the process started (epoch ms, one line per run in $KAIROS_PEER_STARTS)."""
import os
import subprocess
import time

from celery import Celery

redis = os.environ["KAIROS_PEER_REDIS"]
app = Celery("celery_tasks", broker=redis, backend=redis)
app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False, result_expires=3600)
STARTS = os.environ.get("KAIROS_PEER_STARTS", "/dev/null")


@app.task(name="bench.run")
def run(i):
    p = subprocess.Popen(["/bin/true"])
    with open(STARTS, "a") as f:
        f.write(f"{i} {time.time() * 1000:.3f}\n")
    rc = p.wait()
    if rc != 0:
        raise RuntimeError(f"exit {rc}")
