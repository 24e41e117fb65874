#!/usr/bin/env python3
"""Counts test cases (not Bazel targets) from the JUnit XML Bazel leaves under bazel-testlogs.

Usage: count_test_cases.py TESTLOGS_DIR TARGET... ; prints "N passed, M failed[, K skipped]".
A target with no test.xml (it did not build, or crashed before reporting) counts as one failure.
Exits 1 when anything failed.
"""
import os
import sys
import xml.etree.ElementTree as ElementTree


def xml_path(testlogs, target):
    # //tests/integration:failure_detection_test -> tests/integration/failure_detection_test/test.xml
    package, _, name = target.lstrip("/").partition(":")
    return os.path.join(testlogs, package, name, "test.xml")


def count(path):
    passed = failed = skipped = 0
    failures = []
    for case in ElementTree.parse(path).iter("testcase"):
        outcome = {child.tag for child in case}
        if "failure" in outcome or "error" in outcome:
            failed += 1
            failures.append(case.get("classname", "") + "." + case.get("name", ""))
        elif "skipped" in outcome or case.get("result") == "skipped" or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failures


def main():
    testlogs, targets = sys.argv[1], sys.argv[2:]
    totals = [0, 0, 0]
    for target in targets:
        path = xml_path(testlogs, target)
        if not os.path.exists(path):
            print(f"FAILED {target}: no test results (did it build?)")
            totals[1] += 1
            continue
        passed, failed, skipped, failures = count(path)
        if passed + failed + skipped == 0:
            failed = 1
            failures = ["(no test case ran)"]
        for failure in failures:
            print(f"FAILED {target}: {failure}")
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
    line = f"{totals[0]} passed, {totals[1]} failed"
    if totals[2]:
        line += f", {totals[2]} skipped"
    print(line)
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
