#!/usr/bin/env bash
# docs/api.md is in sync with the public headers (cws.h, cws_util.h,
# cws_deflate.h), both ways:
#   - every public name of the header is documented (tools/check-api-docs.sh),
#     and the checker does catch an undocumented name;
#   - every cws_*/CWS_* name the doc mentions exists in the header (so a
#     rename cannot leave stale docs behind), bar the few that live elsewhere.
set -u
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0

headers="include/cws.h include/cws_util.h include/cws_deflate.h"
for h in $headers; do
    tools/check-api-docs.sh "$h" docs/api.md || fails=$((fails + 1))
done

# The error table is generated from the CWS_ERRORS list (tools/errors-table.sh).
if tools/errors-table.sh | diff -u - <(sed -n '/<!-- errors:begin -->/,/<!-- errors:end -->/p' docs/api.md | sed '1d;$d'); then
    echo "ok: the error table matches CWS_ERRORS"
else
    echo "FAIL: docs/api.md's error table is stale: run tools/errors-table.sh --update"; fails=$((fails + 1))
fi

# The checker must be able to fail.
sed 's|^#endif /\* CWS_H \*/|CWS_API int cws_not_documented_anywhere(void);\n#define CWS_NOT_DOCUMENTED 1\n&|' \
    include/cws.h > "$work/cws.h"
if out=$(tools/check-api-docs.sh "$work/cws.h" docs/api.md 2>&1); then
    echo "FAIL: checker accepted an undocumented function"; fails=$((fails + 1))
elif echo "$out" | grep -q cws_not_documented_anywhere && echo "$out" | grep -q CWS_NOT_DOCUMENTED; then
    echo "ok: checker names undocumented symbols"
else
    echo "FAIL: checker failed without naming the symbols: $out"; fails=$((fails + 1))
fi

# Names outside include/cws.h that the doc may mention; "cws_socket_*"
# style prefixes (ending in _) are families, not names.
elsewhere='CWS_IMPLEMENTATION|CWS_NO_DEFLATE|CWS_STATIC|.*_'
stale=$(grep -oE '\b(cws_[a-z0-9_]+|CWS_[A-Z0-9_]+)\b' docs/api.md | sort -u |
    while read -r n; do
        { cat $headers; tools/errors-table.sh; } | grep -qw -- "$n" || echo "$n"
    done | grep -vxE "$elsewhere" || true)
if [ -n "$stale" ]; then
    echo "FAIL: docs/api.md mentions names no public header has:" $stale
    fails=$((fails + 1))
else
    echo "ok: every name in docs/api.md exists in a public header"
fi
[ $fails -eq 0 ]
