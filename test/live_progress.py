"""Runs one cell with a progress sweep on the real tslab kernel (Jupyter's own client) and prints,
as JSON, when each display message arrived: used by test/notebooks.test.ts to check that progress
updates reach Jupyter while the cell runs, not all at its end. Needs jupyter_client (Debian's
jupyter-nbconvert brings it) and JUPYTER_PATH pointing at the repo (kernels/tslab)."""
import json
import os
import sys
import time

from jupyter_client.manager import KernelManager

repo = sys.argv[1]
os.environ["JUPYTER_PATH"] = repo
km = KernelManager(kernel_name="tslab")
km.start_kernel(cwd=os.path.join(repo, "notebooks"))
kc = km.client()
kc.start_channels()
try:
    kc.wait_for_ready(timeout=120)
    code = (
        'import { sweep } from "./lib/progress";\n'
        'const xs = await sweep("live test", Array.from({ length: 10 }, (_, i) => i), '
        '(x) => { const t = Date.now(); while (Date.now() - t < 200); return x; });\n'
        'xs.length'
    )
    t0 = time.time()
    msg_id = kc.execute(code)
    events = []
    while True:
        m = kc.get_iopub_msg(timeout=120)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        kind = m["msg_type"]
        if kind in ("display_data", "update_display_data"):
            events.append({"t": round(time.time() - t0, 3), "type": kind, "text": m["content"]["data"].get("text/plain")})
        if kind == "status" and m["content"]["execution_state"] == "idle":
            break
    print(json.dumps(events))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
