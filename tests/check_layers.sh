#!/usr/bin/env bash
# The internal headers (include/coline/detail/) sit below the public ones:
# they may include each other and the vocabulary headers (error, timeout,
# task and the rest of the coroutine type, connection_options), never the
# connection, an operation or a server, which are built on them.
#   tests/check_layers.sh [include-dir]
set -euo pipefail
dir=${1:-"$(dirname "$0")/../include"}
allowed='^(error|timeout|task|use_task|spawn|connection_options)\.hpp$'
bad=0
for header in "$dir"/coline/detail/*.hpp; do
    while read -r included; do
        if ! [[ $included =~ $allowed ]]; then
            echo "$(basename "$header") includes the public <coline/$included>" >&2
            bad=1
        fi
    done < <(sed -n 's|^#include <coline/\([a-z_]*\.hpp\)>.*|\1|p' "$header")
done
[ "$bad" = 0 ] && echo "detail/ includes no public header beyond the vocabulary ones"
exit "$bad"
