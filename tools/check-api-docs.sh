#!/bin/sh
# Fails if a public name of the header is not mentioned in the API docs.
#
#   tools/check-api-docs.sh [HEADER [DOC]]   (default: include/cws.h docs/api.md)
#
# Public names are every cws_* and CWS_* identifier in the header outside
# comments: functions, types, struct/enum tags, macros and enum constants
# (include guards and private CWS__ macros aside). "Mentioned" means the name appears in
# the doc as a whole word.
set -eu
cd "$(dirname "$0")/.."
header=${1:-include/cws.h}
doc=${2:-docs/api.md}
[ -f "$header" ] || { echo "check-api-docs: no $header" >&2; exit 2; }
[ -f "$doc" ] || { echo "check-api-docs: no $doc" >&2; exit 2; }

# Strip /* */ and // comments and string literals, then list the names.
names=$(awk '
    {
        line = $0; outl = ""
        while (length(line) > 0) {
            if (incomment) {
                i = index(line, "*/")
                if (i == 0) { line = ""; break }
                line = substr(line, i + 2); incomment = 0; continue
            }
            i = index(line, "/*"); j = index(line, "//"); q = index(line, "\"")
            k = i
            if (j && (!k || j < k)) k = j
            if (q && (!k || q < k)) k = q
            if (!k) { outl = outl line; break }
            outl = outl substr(line, 1, k - 1) " "
            if (k == j && k != i) break
            if (k == q) {
                rest = substr(line, k + 1)
                if (match(rest, /^([^"\\]|\\.)*"/)) { line = substr(rest, RLENGTH + 1); continue }
                break
            }
            line = substr(line, k + 2); incomment = 1
        }
        print outl
    }' "$header" | grep -oE '\b(cws_[A-Za-z0-9_]+|CWS_[A-Z0-9_]+)\b' | grep -vxE 'CWS_(UTIL_|DEFLATE_)?H|CWS__[A-Z0-9_]+' | sort -u)

missing=0
for n in $names; do
    if ! grep -qw -- "$n" "$doc"; then
        echo "not documented in $doc: $n"
        missing=$((missing + 1))
    fi
done
total=$(echo "$names" | grep -c . || true)
if [ "$missing" -gt 0 ]; then
    echo "check-api-docs: $missing of $total public names missing from $doc" >&2
    exit 1
fi
echo "check-api-docs: all $total public names of $header are in $doc"
