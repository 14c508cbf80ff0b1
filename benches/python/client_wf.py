"""N HTTP GETs, K in flight, a Python callback each: the pyworkflow API, so
the same script runs on pywf (wf) and on pyworkflow 0.0.10.

    python client_wf.py <url> <requests> <in_flight>

Prints: requests that succeeded, seconds.
"""
import itertools
import sys
import time

import pywf as wf

url, total, in_flight = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = itertools.count()  # next() is atomic under the GIL
ok = []


def callback(task):
    if task.get_state() == wf.WFT_STATE_SUCCESS and task.get_resp().get_body():
        ok.append(1)
    if next(started) < total:
        wf.series_of(task).push_back(wf.create_http_task(url, 0, 0, callback))


t0 = time.perf_counter()
for _ in range(min(in_flight, total)):
    next(started)
    wf.create_http_task(url, 0, 0, callback).start()
wf.wait_finish()
print(len(ok), time.perf_counter() - t0)
