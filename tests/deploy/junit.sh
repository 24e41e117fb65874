# shellcheck shell=bash
# JUnit XML for the shell tests in this directory, one <testcase> per check, so that
# tests/count_test_cases.py counts checks rather than scripts (Bazel's own test.xml for a shell
# test holds one case). Source it, call junit_case once per check, then junit_write.

junit_cases=""
junit_count=0
junit_failures=0

# junit_case SUITE NAME [FAILURE]: records a check; it failed when FAILURE is given.
junit_case() {
  local suite="$1" name="$2" failure="${3:-}"
  junit_cases+="  <testcase classname=\"$(junit_escape "${suite}")\""
  junit_cases+=" name=\"$(junit_escape "${name}")\">"
  if [[ -n "${failure}" ]]; then
    junit_cases+="<failure message=\"$(junit_escape "${failure}")\"/>"
    junit_failures=$((junit_failures + 1))
  fi
  junit_cases+="</testcase>"$'\n'
  junit_count=$((junit_count + 1))
}

# junit_write SUITE: writes the checks recorded so far to $XML_OUTPUT_FILE, where Bazel reads
# them; does nothing outside Bazel.
junit_write() {
  local suite="$1"
  [[ -n "${XML_OUTPUT_FILE:-}" ]] || return 0
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites><testsuite name=\"$(junit_escape "${suite}")\" tests=\"${junit_count}\"" \
      "failures=\"${junit_failures}\">"
    printf '%s' "${junit_cases}"
    echo '</testsuite></testsuites>'
  } >"${XML_OUTPUT_FILE}"
}

# An attribute value with XML's special characters escaped. Each "&" is escaped: bash 5.2 would
# otherwise put the matched text in its place.
junit_escape() {
  local text="$1"
  text="${text//&/\&amp;}"
  text="${text//</\&lt;}"
  text="${text//>/\&gt;}"
  text="${text//\"/\&quot;}"
  printf '%s' "${text}"
}
