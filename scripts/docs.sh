#!/usr/bin/env bash
# Generates the API reference from the public headers' `///` comments with
# Doxygen (docs/Doxyfile) into build/docs/html/, prints Doxygen's warnings
# (also kept in build/docs/warnings.log) and fails if there is any: a public
# name (coline::detail aside) without documentation, or a broken comment.
#   scripts/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh doxygen

out=build/docs
log=$out/warnings.log
rm -rf "$out" && mkdir -p "$out"

status=0
doxygen docs/Doxyfile 2>"$log" || status=$?
# Paths relative to the repository root.
sed -i "s|$PWD/||" "$log"

# Doxygen only checks a namespace's free functions, aliases and variables
# when the namespace itself is documented, and says nothing when it is not:
# list every namespace (a second, quiet run that extracts everything) and
# fail for a public one that got no page.
(cat docs/Doxyfile && printf '%s\n' "OUTPUT_DIRECTORY=$out/all" EXTRACT_ALL=YES GENERATE_HTML=NO GENERATE_XML=YES \
    WARNINGS=NO WARN_AS_ERROR=NO) | doxygen - >/dev/null
namespaces=$(sed -n 's|.*<compound refid="\([^"]*\)" kind="namespace"><name>\(coline[^<]*\)</name>.*|\1 \2|p' \
    "$out/all/xml/index.xml")
[ -n "$namespaces" ] || { echo "docs: Doxygen found no namespace coline in include/coline" >&2; exit 1; }
while read -r refid name; do
    [ -f "$out/html/$refid.html" ] ||
        echo "namespace $name is not documented (its functions, aliases and variables are then neither listed nor checked): put a /// comment right before one \"namespace $name {\" in a header" >>"$log"
done <<<"$namespaces"
# Every name docs/api.md's table "Where each name lives" lists must have an
# entry: a name hidden by a macro Doxygen does not predefine is missing from
# the reference without any warning.
python3 - docs/api.md "$out/all/xml/index.xml" >>"$log" <<'PY'
import re, sys, xml.etree.ElementTree as ET
table = open(sys.argv[1]).read().split("## Where each name lives", 1)[1].split("\n## ", 1)[0]
known = set()
for compound in ET.parse(sys.argv[2]).getroot():
    name = compound.findtext("name")
    if not name.startswith("coline"):
        continue
    known.add(name)
    if compound.get("kind") == "namespace":
        known.update(name + "::" + m.findtext("name") for m in compound.findall("member"))
for row in table.splitlines():
    cells = row.split("|")
    if len(cells) < 3 or not cells[1].strip().startswith("["):
        continue
    for name in re.findall(r"`([A-Za-z_][A-Za-z_:]*)`", cells[2]):
        if "coline::" + name not in known:
            print(f"docs/api.md lists `{name}` ({cells[1].strip()}), but the reference has no coline::{name}")
PY
rm -rf "$out/all"

if [ -s "$log" ]; then
    cat "$log"
    echo "docs: $(grep -c . "$log") warning(s), see above; the reference is in $out/html/index.html"
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "docs: doxygen failed (exit $status)" >&2
    exit 1
fi
echo "docs: no warnings; the reference is in $out/html/index.html"
