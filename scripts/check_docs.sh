#!/usr/bin/env bash
# Checks that docs/api.md has an entry for every public name of coline.
#
#   scripts/check_docs.sh          # lists the names without an entry; exit 1 if any
#   scripts/check_docs.sh --list   # prints every public name found, with its kind and header
#
# The convention: each public name has a heading line in docs/api.md that is
# exactly "### " followed by its qualified name:
#
#   ### coline::read_line                          a function (one entry per overload set)
#   ### coline::connection_options::read_timeout   a data member
#   ### coline::basic_connection::close            a member function
#   ### coline::error::timeout                     an enumerator (named through its enum)
#   ### COLINE_SOME_MACRO                          a macro
#
# Public names are read from every include/coline/*.hpp (not a fixed list, so
# new headers are checked too): classes, structs, enums and their
# enumerators, functions, variables, aliases and concepts in namespace coline
# (and its namespaces, except detail), and the public members of its classes.
# Constructors, destructors and operators are covered by their class's entry.
# Macros: every COLINE_ macro that any header (detail/ included) tests with
# #if/#ifdef/#ifndef (a user may set it), and every COLINE_ macro a public
# header defines. The parser is a small tokenizer in POSIX awk (mawk works):
# no compiler needed, but it expects ordinary declarations.
set -euo pipefail
cd "$(dirname "$0")/.."

api=docs/api.md
mode=${1:-check}
case "$mode" in
check | --list) ;;
*) echo "usage: $0 [--list]" >&2; exit 2 ;;
esac

shopt -s nullglob
headers=(include/coline/*.hpp)
all_headers=(include/coline/*.hpp include/coline/detail/*.hpp)
if [ ${#headers[@]} -eq 0 ]; then
    echo "check_docs: no headers in include/coline/" >&2
    exit 2
fi

# Macros: "NAME" for object-like, "NAME(" for function-like; their uses are
# dropped before parsing (COLINE_SILENCE_FRAME_WARNINGS_BEGIN before a namespace).
macros=$(sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\)\((\{0,1\}\).*/\1\2/p' \
    "${all_headers[@]}" | sort -u | tr '\n' ' ')

read -r -d '' parser <<'AWK' || true
# ---- tokenizer: comments, literals and preprocessor lines go; tokens stay ----
BEGIN {
    ntok = 0; in_comment = 0; continued = 0
    n = split(macros, m, " ")
    for (i = 1; i <= n; i++) {
        if (m[i] ~ /\($/) macro_fn[substr(m[i], 1, length(m[i]) - 1)] = 1
        else macro_obj[m[i]] = 1
    }
}
function add(t) { tok[++ntok] = t }
{
    line = $0
    if (continued) { continued = (line ~ /\\$/); next }
    if (!in_comment && line ~ /^[ \t]*#/) { continued = (line ~ /\\$/); next }
    len = length(line); i = 1
    while (i <= len) {
        c = substr(line, i, 1)
        if (in_comment) {
            if (substr(line, i, 2) == "*/") { in_comment = 0; i += 2 } else i++
            continue
        }
        two = substr(line, i, 2)
        if (two == "//") break
        if (two == "/*") { in_comment = 1; i += 2; continue }
        if (c == " " || c == "\t" || c == "\r") { i++; continue }
        if (c == "\"" || c == "'") {          # string or character literal
            j = i + 1
            while (j <= len && substr(line, j, 1) != c) j += (substr(line, j, 1) == "\\") ? 2 : 1
            add(c c); i = j + 1; continue
        }
        if (c ~ /[A-Za-z_]/) {
            j = i; while (j <= len && substr(line, j, 1) ~ /[A-Za-z0-9_]/) j++
            add(substr(line, i, j - i)); i = j; continue
        }
        if (c ~ /[0-9]/) {                    # numbers, with ' digit separators
            j = i; while (j <= len && substr(line, j, 1) ~ /[A-Za-z0-9_.']/) j++
            add(substr(line, i, j - i)); i = j; continue
        }
        three = substr(line, i, 3)
        if (three == "...") { add("..."); i += 3; continue }
        if (two == "::" || two == "->" || two == "&&" || two == "||" || two == "<<" || two == "==" || two == "!=" || two == "<=" || two == ">=") {
            add(two); i += 2; continue
        }
        add(c); i++                           # ">>" stays two ">", as templates want
    }
}

# ---- parser: statements and scopes ----
function emit(name, kind) {
    if (!(name in seen)) { seen[name] = 1; printf "%s\t%s\t%s\n", name, kind, file }
}
# The token after the balanced group that opens at i ("(", "<", "[" or "{").
function skip_group(i,    op, cl, depth) {
    op = tok[i]
    cl = (op == "(") ? ")" : (op == "<") ? ">" : (op == "[") ? "]" : "}"
    depth = 0
    for (; i <= ntok; i++) {
        if (tok[i] == op) depth++
        else if (tok[i] == cl && --depth == 0) return i + 1
    }
    return i
}
function scope_is_public(    k) {
    for (k = 1; k <= sp; k++) if (!spub[k]) return 0
    return sp > 0 && sname[1] == "coline"
}
function prefix(    k, p) {
    p = ""
    for (k = 1; k <= sp; k++) if (sname[k] != "") p = p sname[k] "::"
    return p
}
function in_class() { return sp > 0 && skind[sp] == "class" }
function push(kind, name, pub) { sp++; skind[sp] = kind; sname[sp] = name; spub[sp] = pub; sjoin[sp] = 0 }

# Classifies the statement s[1..ns], which ends with `ender` ("{" or ";");
# `at` is the index of the ender in tok. Returns where parsing goes on.
function statement(ender, at,    b, k, t, name, pub, depth, angle, kw, q, inl) {
    pub = scope_is_public() && (!in_class() || access[sp] == "public")
    b = 1
    while (b <= ns && s[b] == "template") {   # template <...> prefixes
        b++; depth = 0
        for (; b <= ns; b++) {
            if (s[b] == "<") depth++
            else if (s[b] == ">" && --depth == 0) { b++; break }
        }
    }
    while (b <= ns && (s[b] == "inline" || s[b] == "export" || s[b] == "extern" || s[b] == "\"\"")) {
        if (s[b] == "inline" && s[b + 1] == "namespace") break
        b++
    }
    if (b > ns) {                            # extern "C" { or a stray block: transparent
        if (ender == "{") push("ns", "", 1)
        return at + 1
    }
    kw = s[b]
    if (kw == "friend" || kw == "static_assert") return skip_body(ender, at)

    if (kw == "namespace" || (kw == "inline" && s[b + 1] == "namespace")) {
        inl = (kw == "inline")
        if (inl) b++
        if (ender == ";") {                   # namespace alias
            if (pub && s[b + 2] == "=") emit(prefix() s[b + 1], "namespace alias")
            return at + 1
        }
        if (b == ns) { push("ns", "", 0); return at + 1 }   # anonymous: internal
        # "namespace a::b::c {" opens one scope per name, closed by one "}";
        # an inline namespace is transparent
        for (k = b + 1; k <= ns; k++) {
            if (s[k] == "::" || s[k] == "inline") continue
            push("ns", (s[k - 1] == "inline" || (inl && k == b + 1)) ? "" : s[k], s[k] != "detail")
            sjoin[sp] = (k > b + 1)
        }
        return at + 1
    }
    if (kw == "using") {
        if (s[b + 1] == "namespace") return at + 1
        if (s[b + 2] == "=") { if (pub) emit(prefix() s[b + 1], "alias"); return skip_body(ender, at) }
        if (pub) emit(prefix() s[ns], "using-declaration")   # using ns::name;
        return at + 1
    }
    if (kw == "typedef") {
        if (pub) emit(prefix() last_ident(b, ns), "alias")
        return skip_body(ender, at)
    }
    if (kw == "concept" && s[b + 1] ~ /^[A-Za-z_]/) {
        if (pub) emit(prefix() s[b + 1], "concept")
        return skip_body(ender, at)
    }
    if (kw == "enum") {
        k = b + 1
        if (s[k] == "class" || s[k] == "struct") k++
        while (s[k] == "[") k = skip_group_in_s(k)
        name = (s[k] ~ /^[A-Za-z_]/) ? s[k] : ""
        if (pub && name != "") emit(prefix() name, "enum")
        if (ender == "{") return enumerators(at + 1, prefix() name, pub && name != "")
        return at + 1
    }
    if (kw == "class" || kw == "struct" || kw == "union") {
        k = b + 1
        while (k <= ns && (s[k] == "[" || s[k] == "alignas")) k = (s[k] == "[") ? skip_group_in_s(k) : skip_group_in_s(k + 1)
        name = s[k]
        q = 0                                 # qualified: a specialization of another namespace's template
        while (s[k + 1] == "::") { k += 2; name = name "::" s[k]; q = 1 }
        if (name !~ /^[A-Za-z_]/) name = ""
        if (pub && name != "" && !q) emit(prefix() name, kw)
        if (ender == ";") return at + 1
        push("class", name, pub && name != "" && !q)
        access[sp] = (kw == "class") ? "private" : "public"
        return at + 1
    }

    # A function, a variable or a data member: find the first top-level
    # "(", "=", "{", "[" or ";" (outside template arguments).
    angle = 0
    for (k = b; k <= ns; k++) {
        t = s[k]
        if (t == "operator" || t == "~") return skip_function(ender, at)
        if (t == "decltype" || t == "alignas" || t == "noexcept" || t == "requires" || t == "__attribute__" || t == "explicit") {
            if (s[k + 1] == "(") { k = skip_group_in_s(k + 1) - 1; continue }
            if (t == "requires") { k = skip_constraint(k + 1) - 1; continue }
            continue
        }
        if (t == "[" && s[k + 1] == "[") { k = skip_group_in_s(k) - 1; continue }
        if (t == "<" && angle >= 0 && k > b && s[k - 1] ~ /^[A-Za-z_]/) { angle++; continue }
        if (t == ">" && angle > 0) { angle--; continue }
        if (angle > 0) { if (t == "(") k = skip_group_in_s(k) - 1; continue }
        if (t == "(" || t == "=" || t == "[") break
    }
    # ender "{" without a top-level "(" (k > ns): a variable with a brace initializer
    name = s[k - 1]
    if (k <= ns && s[k] == "(") {
        # a function; "A::f(" defines a member of A out of its class, where
        # it was declared (with its access): nothing new
        if (name !~ /^[A-Za-z_]/ || (k > 2 && s[k - 2] == "::")) return skip_function(ender, at)
        if (in_class() && name == sname[sp]) return skip_function(ender, at)   # constructor
        if (pub) emit(prefix() name, in_class() ? "member function" : "function")
        return skip_function(ender, at)
    }
    if (name ~ /^[A-Za-z_]/ && k - 1 >= b + 1) {
        if (pub) emit(prefix() name, in_class() ? "data member" : "variable")
    }
    return skip_body(ender, at)
}
function reset() { split("", s); ns = 0 }
function last_ident(b, e,    k) {
    for (k = e; k >= b; k--) if (s[k] ~ /^[A-Za-z_]/) return s[k]
    return ""
}
function skip_group_in_s(i,    op, cl, depth) {
    op = s[i]
    cl = (op == "(") ? ")" : (op == "<") ? ">" : (op == "[") ? "]" : "}"
    depth = 0
    for (; i <= ns; i++) {
        if (s[i] == op) depth++
        else if (s[i] == cl && --depth == 0) return i + 1
    }
    return i
}
# "requires Concept<T> && Other<U>" without parentheses
function skip_constraint(k) {
    for (;;) {
        while (k <= ns && (s[k] ~ /^[A-Za-z_]/ || s[k] == "::")) k++
        if (s[k] == "<") k = skip_group_in_s(k)
        if (s[k] == "&&" || s[k] == "||") { k++; continue }
        return k
    }
}
# After a statement that ended with "{": skips the braced body (or initializer).
function skip_body(ender, at) {
    if (ender == "{") return skip_group(at)
    return at + 1
}
# Skips a function's body, and a constructor's member initializers first
# (a brace initializer "a_{x}" is not the body: the body follows ")" or "}").
function skip_function(ender, at,    k, i, depth, ctor_init) {
    if (ender == ";") return at + 1
    ctor_init = 0; depth = 0
    for (k = 1; k <= ns; k++) {
        if (s[k] == "(") depth++
        else if (s[k] == ")") depth--
        else if (s[k] == ":" && depth == 0) { ctor_init = 1; break }
    }
    i = at
    if (ctor_init) {
        while (i <= ntok && tok[i] == "{" && tok[i - 1] != ")" && tok[i - 1] != "}") {
            i = skip_group(i)                 # an initializer: go on to the next "{"
            while (i <= ntok && tok[i] != "{") i = (tok[i] == "(") ? skip_group(i) : i + 1
        }
    }
    return skip_group(i)
}
# Enumerators from `i` (just after "{") to the closing "}".
function enumerators(i, qual, pub,    first, depth) {
    first = 1; depth = 0
    for (; i <= ntok; i++) {
        if (depth == 0 && tok[i] == "}") return i + 1
        if (tok[i] == "(" || tok[i] == "{" || tok[i] == "[") depth++
        else if (tok[i] == ")" || tok[i] == "}" || tok[i] == "]") depth--
        else if (depth == 0 && tok[i] == ",") first = 1
        else if (depth == 0 && first && tok[i] ~ /^[A-Za-z_]/) {
            if (pub) emit(qual "::" tok[i], "enumerator")
            first = 0
        }
    }
    return i
}
END {
    # drop macro uses (and a function-like macro's arguments)
    n = 0
    for (i = 1; i <= ntok; i++) {
        if (tok[i] in macro_obj) continue
        if ((tok[i] in macro_fn) && tok[i + 1] == "(") { i = skip_group(i + 1) - 1; continue }
        kept[++n] = tok[i]
    }
    ntok = n
    for (i = 1; i <= ntok; i++) tok[i] = kept[i]

    sp = 0; ns = 0; i = 1; paren = 0
    while (i <= ntok) {
        t = tok[i]
        if (t == "(") paren++
        else if (t == ")") paren--
        if (paren > 0) { s[++ns] = t; i++; continue }     # "= {}" default arguments and the like
        if (t == "{" || t == ";") {
            i = statement(t, i); reset(); continue
        }
        if (t == "}") {
            while (sp > 0 && sjoin[sp]) sp--
            if (sp > 0) sp--
            reset(); i++; continue
        }
        if (t == ":" && in_class() && ns == 1 && (s[1] == "public" || s[1] == "private" || s[1] == "protected")) {
            access[sp] = s[1]; reset(); i++; continue
        }
        s[++ns] = t; i++
    }
}
AWK

extract_names() {
    local header
    for header in "${headers[@]}"; do
        awk -v macros="$macros" -v file="$header" "$parser" "$header"
    done

    # Macros a user may set (tested by #if/#ifdef/#ifndef anywhere), and
    # macros a public header defines.
    local h
    for h in "${all_headers[@]}"; do
        grep -E '^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif)\b' "$h" | grep -oE '\bCOLINE_[A-Za-z0-9_]+' |
            grep -vE '_(HPP|H|INCLUDED)$' | sed "s|\$|\tmacro (settable)\t$h|" || true
    done
    for h in "${headers[@]}"; do
        sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}\(COLINE_[A-Za-z0-9_]*\).*/\1/p' "$h" |
            sed "s|\$|\tmacro\t$h|" || true
    done
}

names=$(extract_names | awk -F'\t' '!seen[$1]++')
count=$(printf '%s\n' "$names" | grep -c . || true)
if [ "$count" -eq 0 ]; then
    echo "check_docs: found no public names in include/coline/*.hpp: the parser is broken" >&2
    exit 2
fi

if [ "$mode" = --list ]; then
    printf '%s\n' "$names" | column -t -s $'\t' 2>/dev/null || printf '%s\n' "$names"
    exit 0
fi

if [ ! -f "$api" ]; then
    echo "check_docs: $api does not exist" >&2
    exit 1
fi

# The entries of api.md: "### name" lines, trailing spaces ignored.
entries=$(sed -n 's/^### \(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$api" | sort -u)

missing=$(printf '%s\n' "$names" | awk -F'\t' 'NR == FNR { have[$0] = 1; next } !($1 in have) { printf "  %-55s %-18s %s\n", $1, $2, $3 }' \
    <(printf '%s\n' "$entries") -)
# Entries for names the headers no longer declare: reported, not fatal
# (api.md may also hold "### " entries for things that are not declarations).
stale=$(printf '%s\n' "$entries" | awk 'NR == FNR { split($0, f, "\t"); have[f[1]] = 1; next } /^(coline::|COLINE_)/ && !($0 in have) { print "  " $0 }' \
    <(printf '%s\n' "$names") -)

if [ -n "$stale" ]; then
    echo "check_docs: entries in $api for names no header declares (renamed or removed?):"
    printf '%s\n' "$stale"
fi
if [ -n "$missing" ]; then
    echo "check_docs: public names without a \"### <name>\" entry in $api:"
    printf '%s\n' "$missing"
    echo "check_docs: $(printf '%s\n' "$missing" | grep -c .) of $count public names undocumented"
    exit 1
fi
echo "check_docs: all $count public names in include/coline/*.hpp have an entry in $api"
