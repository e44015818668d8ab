"""Celery client: python3 celery_client.py MODE N RATE (broker from $KAIROS_PEER_REDIS); the same workload as
drive.mjs: submit, wait until the result backend says every task finished, print one JSON line."""
import json
import sys
import threading
import time

from celery_tasks import run

mode, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
results = [None] * n
submitted = []
t0 = time.perf_counter()
if mode == "seq":
    for i in range(n):
        results[i] = run.delay(i)
elif mode == "par":
    lock = threading.Lock()
    state = {"next": 0}

    def submitter():
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= n:
                return
            results[i] = run.delay(i)

    threads = [threading.Thread(target=submitter) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
elif mode == "rate":
    start = time.time()
    for i in range(n):
        wait = start + i / rate - time.time()
        if wait > 0:
            time.sleep(wait)
        submitted.append([i, time.time() * 1000])
        results[i] = run.delay(i)
else:
    raise SystemExit(f"unknown mode {mode}")
pending = list(results)
while pending:
    pending = [r for r in pending if not r.ready()]
    if pending:
        time.sleep(0.02)
seconds = time.perf_counter() - t0
failed = [r for r in results if r.failed()]
if failed:
    raise SystemExit(f"{len(failed)} Celery tasks failed")
print(json.dumps({"seconds": seconds, "submitted": submitted}))
