#!/usr/bin/env bash
# Writes a C++ source file whose function returns the bytes of a text file, so that a daemon can
# serve a page kept as an ordinary file (edited, linted and viewed as HTML) without reading
# anything at run time. Bazel runs it from a genrule (server/coordinator/BUILD.bazel).
#
# Usage: tools/embed_text.sh INPUT OUTPUT HEADER FUNCTION
#   INPUT     the text file (UTF-8; any bytes but NUL)
#   OUTPUT    the .cc to write
#   HEADER    the header that declares FUNCTION, as the .cc includes it
#   FUNCTION  its qualified name, declared `absl::string_view FUNCTION();` in HEADER
#             (e.g. ps::StatusPageHtml)
#
# The text goes into one C++ raw string literal, which keeps every byte as it is (no escaping
# to get wrong). A raw string ends at `)DELIMITER"`, so the script refuses an input holding
# that sequence rather than emit a file that would not compile or would cut the text short.
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 INPUT OUTPUT HEADER FUNCTION" >&2
  exit 2
fi
input=$1
output=$2
header=$3
function=$4
readonly delimiter="ps_embedded_"

if grep -qF ")${delimiter}\"" "${input}"; then
  echo "$0: ${input} contains )${delimiter}\", which would end the raw string literal" >&2
  exit 1
fi

{
  echo "// Generated from ${input} by tools/embed_text.sh. Do not edit; edit ${input}."
  echo "#include \"${header}\""
  echo
  echo "absl::string_view ${function}() {"
  printf '  static constexpr char kText[] = R"%s(' "${delimiter}"
  cat "${input}"
  printf ')%s";\n' "${delimiter}"
  echo "  return absl::string_view(kText, sizeof(kText) - 1);"
  echo "}"
} >"${output}"
