"""The floor in Python: N runs of /bin/true with subprocess, 4 at a time (threads). Prints one JSON line."""
import json
import subprocess
import sys
import threading
import time

n = int(sys.argv[1])
lock = threading.Lock()
state = {"next": 0}


def loop():
    while True:
        with lock:
            i = state["next"]
            state["next"] += 1
        if i >= n:
            return
        if subprocess.call(["/bin/true"]) != 0:
            raise SystemExit("exit")


t0 = time.perf_counter()
threads = [threading.Thread(target=loop) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"seconds": time.perf_counter() - t0, "submitted": []}))
