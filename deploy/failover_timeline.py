#!/usr/bin/env python3
"""Prints the failover timeline of a demo run from its logs: the SIGKILL of a server, its
detection by the coordinator, the promotions of its backups, the first push a promoted primary
acknowledged, and the re-replication that restored every shard's replicas.

Usage: failover_timeline.py RUN_DIR   (RUN_DIR/kill.time and RUN_DIR/logs/*.log)
"""
import datetime
import glob
import os
import re
import sys

STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) ")


def parse(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")


def lines(path):
    with open(path, errors="replace") as log:
        for line in log:
            match = STAMP.match(line)
            if match:
                yield parse(match.group(1)), line[match.end():].strip()


def main():
    run_dir = sys.argv[1]
    with open(os.path.join(run_dir, "kill.time")) as f:
        killed = parse(f.read().strip())
    coordinator = list(lines(os.path.join(run_dir, "logs", "coordinator.log")))
    workers = [entry for path in sorted(glob.glob(os.path.join(run_dir, "logs", "worker-*.log")))
               for entry in lines(path)]
    servers = sorted((entry for path in glob.glob(os.path.join(run_dir, "logs", "server-*.log"))
                      for entry in lines(path)), key=lambda entry: entry[0])
    after = lambda entries: [(t, text) for t, text in entries if t >= killed]

    def first(entries, pattern):
        for t, text in after(entries):
            if re.search(pattern, text):
                return t, text
        return None

    def last(entries, pattern):
        found = [(t, text) for t, text in after(entries) if re.search(pattern, text)]
        return found[-1] if found else None

    events = [
        ("server declared dead", first(coordinator, r"server \d+ is out")),
        ("first backup promoted", first(coordinator, r"promoted to primary")),
        ("first push applied by a promoted primary",
         first(servers, r"first push as the promoted primary")),
        ("first worker call the failover held up, answered",
         first(workers, r"went through after \d+ retries")),
        ("first learner assigned (re-replication)", first(coordinator, r"added as learner")),
        ("last learner caught up: 2 replicas per shard again",
         last(coordinator, r"caught up and joined the chain")),
    ]
    print(f"{0:>8} ms  SIGKILL")
    # In time order; simultaneous events in causal order (as listed above).
    seen = sorted((event[0], order, label, event[1])
                  for order, (label, event) in enumerate(events) if event is not None)
    for t, _, label, text in seen:
        ms = (t - killed).total_seconds() * 1000
        print(f"{ms:>8.0f} ms  {label}: {text[:110]}")
    for label, event in events:
        if event is None:
            print(f"{'-':>8}     {label}: not seen in the logs")


if __name__ == "__main__":
    main()
