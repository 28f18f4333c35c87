#!/usr/bin/env python3
"""Where a run's seconds went, per thread, from a JFR recording (settings=profile).

usage: scripts/jfr-threads.py RECORDING.jfr [FRAMES] [TOP]
  FRAMES  stack frames that name a row (default 1: the method on top of the stack)
  TOP     rows per thread (default 10)

Java samples (jdk.ExecutionSample) and samples in native code (jdk.NativeMethodSample: read(), write(), madvise)
are counted apart and turned into seconds with the periods of JDK 25's profile settings (10 ms / 20 ms): record with
-XX:StartFlightRecording=filename=X.jfr,settings=profile.
They are wall-clock samples of a running or runnable thread: on a loaded machine a thread waiting for a core
still collects them, so compare splits from the same machine state.
"""
import collections
import json
import os
import subprocess
import sys


def jfr_tool():
    home = os.environ.get("JAVA_HOME")
    if not home:
        here = os.path.dirname(os.path.abspath(__file__))
        home = subprocess.run(["bash", "-c", f". '{here}/java-home.sh' && echo $JAVA_HOME"],
                              capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(home, "bin", "jfr")


def main():
    recording = sys.argv[1]
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    jfr = jfr_tool()
    out = subprocess.run([jfr, "print", "--json", "--events", "jdk.ExecutionSample,jdk.NativeMethodSample", recording],
                         capture_output=True, text=True, check=True).stdout
    # profile settings: Java samples every 10 ms, native samples every 20 ms
    seconds = {"jdk.ExecutionSample": 0.010, "jdk.NativeMethodSample": 0.020}
    rows = collections.defaultdict(collections.Counter)
    total = collections.Counter()
    for e in json.loads(out)["recording"]["events"]:
        v = e["values"]
        thread = (v.get("sampledThread") or {}).get("javaName") or "?"
        frames = (v.get("stackTrace") or {}).get("frames") or []
        names = []
        for f in frames[:depth]:
            m = f["method"]
            names.append(m["type"]["name"].split("/")[-1] + "." + m["name"])
        kind = "native" if e["type"] == "jdk.NativeMethodSample" else "java"
        s = seconds[e["type"]]
        rows[thread][kind + "  " + " < ".join(names)] += s
        total[thread] += s
    for thread, _ in total.most_common():
        print(f"{thread}: {total[thread]:.2f} s of samples")
        for name, s in rows[thread].most_common(top):
            print(f"  {s:6.2f} s  {name}")


if __name__ == "__main__":
    main()
