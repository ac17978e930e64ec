#!/bin/sh
# Prints the Markdown table of errors from the CWS_ERRORS list in
# include/cws.h, the one place they are defined. docs/api.md holds its
# output between the "errors:begin" and "errors:end" markers;
# tests/integration/test_api_docs.sh checks they match, and
#   tools/errors-table.sh --update
# rewrites them.
set -eu
cd "$(dirname "$0")/.."
table() {
    echo '| Name | Value | cws_strerror() |'
    echo '|---|---|---|'
    sed -n '/^#define CWS_ERRORS(X)/,/^$/p' include/cws.h |
        sed -n 's/^ *X(\([A-Z0-9_]*\), *\(-\{0,1\}[0-9]*\), *"\(.*\)").*$/| `CWS_\1` | \2 | \3 |/p'
}
if [ "${1:-}" = --update ]; then
    tmp=$(mktemp)
    table > "$tmp.t"
    awk -v t="$tmp.t" '
        /<!-- errors:begin -->/ { print; while ((getline l < t) > 0) print l; skip = 1; next }
        /<!-- errors:end -->/ { skip = 0 }
        !skip' docs/api.md > "$tmp"
    mv "$tmp" docs/api.md
    rm -f "$tmp.t"
else
    table
fi
