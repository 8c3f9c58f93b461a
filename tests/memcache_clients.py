#!/usr/bin/python3
"""pymemcache, a real memcached client, against examples/memcache_server.

    /usr/bin/python3 memcache_clients.py PORT

Debian's python3-pymemcache loads only under /usr/bin/python3. Every call's
result is asserted; prints ok:/FAILED: per check and a summary line, and
exits 1 on any failure (77 when pymemcache is missing: a skip).
"""
import random
import sys

try:
    from pymemcache.client.base import Client
    from pymemcache.exceptions import MemcacheServerError
except ImportError:
    print("skipped: pymemcache is not installed (python3-pymemcache)", file=sys.stderr)
    sys.exit(77)

port = int(sys.argv[1])
passed = failed = 0


def check(name, got, expected):
    global passed, failed
    if got == expected:
        passed += 1
        print("ok: pymemcache %s" % name)
    else:
        failed += 1
        shown = lambda v: repr(v) if len(repr(v)) < 200 else repr(v)[:200] + "..."
        print("FAILED: pymemcache %s: got %s, expected %s" % (name, shown(got), shown(expected)))


def client():
    # default_noreply=False: every storage command waits for its answer, so that it can be checked.
    return Client(("127.0.0.1", port), connect_timeout=10, timeout=20, default_noreply=False)


mc = client()
rng = random.Random(11)
megabyte = rng.randbytes(1_000_000)
odd_values = {
    b"crlf": b"line one\r\nline two\r\n",
    b"lf_only": b"\n\n",
    b"nul": b"\0before\0after\0",
    b"empty": b"",
    b"all_bytes": bytes(range(256)) * 4,
    b"megabyte": megabyte,
}

for key, value in odd_values.items():
    check("set %s" % key.decode(), mc.set(key, value), True)
for key, value in odd_values.items():
    check("get %s" % key.decode(), mc.get(key), value)
check("get_many returns every value stored",
      mc.get_many(list(odd_values) + [b"missing"]), odd_values)
check("get of a missing key", mc.get(b"missing"), None)



class KeepFlags:  # a serde that shows the flags each value came back with
    def serialize(self, key, value):
        return value, 0

    def deserialize(self, key, value, flags):
        return value, flags


flagged = Client(("127.0.0.1", port), connect_timeout=10, timeout=20, default_noreply=False, serde=KeepFlags())
check("flags travel with the value", (flagged.set(b"flagged", b"x", flags=4294967295), flagged.get(b"flagged")),
      (True, (b"x", 4294967295)))
flagged.close()

# cas: gets gives the unique; a store through it works once.
mc.set(b"counter_text", b"v1")
value, unique = mc.gets(b"counter_text")
check("gets gives the value and a cas unique", (value, isinstance(unique, bytes) and unique.isdigit()), (b"v1", True))
check("cas with that unique stores", mc.cas(b"counter_text", b"v2", unique), True)
check("cas with the same unique again is refused (EXISTS)", mc.cas(b"counter_text", b"v3", unique), False)
check("cas on a missing key (NOT_FOUND)", mc.cas(b"no_such_key", b"v", b"1"), None)
check("the value is the one cas stored", mc.get(b"counter_text"), b"v2")
check("gets_many", mc.gets_many([b"counter_text", b"missing"])[b"counter_text"][0], b"v2")

check("add of a new key", mc.add(b"added", b"a"), True)
check("add of an existing key", mc.add(b"added", b"b"), False)
check("replace of an existing key", mc.replace(b"added", b"c"), True)
check("replace of a missing key", mc.replace(b"not_added", b"c"), False)
check("append", (mc.append(b"added", b"+end"), mc.get(b"added")), (True, b"c+end"))
check("prepend", (mc.prepend(b"added", b"start+"), mc.get(b"added")), (True, b"start+c+end"))
check("append to a missing key", mc.append(b"not_added", b"x"), False)

check("delete", mc.delete(b"added"), True)
check("delete again", mc.delete(b"added"), False)
check("get after delete", mc.get(b"added"), None)

mc.set(b"number", b"41")
check("incr", mc.incr(b"number", 1), 42)
check("decr", mc.decr(b"number", 2), 40)
check("decr stops at 0", mc.decr(b"number", 1000), 0)
check("incr wraps around at 2**64", (mc.set(b"big", b"18446744073709551615"), mc.incr(b"big", 2)), (True, 1))
check("incr of a missing key", mc.incr(b"no_number", 1), None)
check("decr of a missing key", mc.decr(b"no_number", 1), None)
try:
    mc.incr(b"crlf", 1)
    check("incr of a non-number is an error", "no error", "an error")
except Exception as error:  # pymemcache raises MemcacheClientError with memcached's message
    check("incr of a non-number is an error", error.args[0], b"cannot increment or decrement non-numeric value")

check("touch of an existing key", mc.touch(b"number", 100), True)
check("touch of a missing key", mc.touch(b"no_number", 100), False)
check("the touched value stays", mc.get(b"number"), b"0")
# Expiry without waiting: a Unix time in the past has already come.
check("touch with a time past", (mc.touch(b"number", 2592001), mc.get(b"number")), (True, None))
check("set with a time past", (mc.set(b"old", b"x", expire=2592001), mc.get(b"old")), (True, None))
check("set with a time to come", (mc.set(b"young", b"x", expire=3600), mc.get(b"young")), (True, b"x"))

# noreply: nothing comes back, and what was asked is done.
check("set with noreply", mc.set(b"quiet", b"shh", noreply=True), True)
check("incr with noreply", mc.incr(b"number_quiet", 1, noreply=True), None)
check("delete with noreply", (mc.delete(b"young", noreply=True), mc.get(b"young")), (True, None))
check("what noreply stored", mc.get(b"quiet"), b"shh")

check("set_many", mc.set_many({b"m1": b"1", b"m2": b"2", b"m3": b"3"}), [])
check("get_many of many keys", mc.get_many([b"m%d" % i for i in range(1, 4)]), {b"m1": b"1", b"m2": b"2", b"m3": b"3"})

# A value over the 1 MiB item limit: memcached's SERVER_ERROR, and the client goes on.
try:
    mc.set(b"too_big", b"x" * (1024 * 1024 + 1))
    check("a value over 1 MiB is refused", "stored", "an error")
except MemcacheServerError as error:
    check("a value over 1 MiB is refused", error.args[0], b"object too large for cache")
mc = client()  # pymemcache may drop a connection after an error
check("a value of exactly 1 MiB is stored", mc.set(b"one_mib", megabyte[:1024] * 1024), True)
check("and read back", mc.get(b"one_mib"), megabyte[:1024] * 1024)
check("the server goes on after the refusal", mc.get(b"megabyte"), megabyte)

version = mc.version()
check("version", version.startswith(b"1.6"), True)
stats = mc.stats()
check("stats has the item count", stats.get(b"curr_items", 0) > 0, True)
check("stats has the memory limit", stats.get(b"limit_maxbytes"), 64 * 1024 * 1024)

check("flush_all", mc.flush_all(), True)
check("nothing is left after flush_all", mc.get_many(list(odd_values) + [b"quiet", b"m1"]), {})
mc.quit()

print("pymemcache: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
