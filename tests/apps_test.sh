#!/usr/bin/env bash
# Runs the echo and chat examples the way a user would, with nc as
# the client, over loopback on ports the kernel picks.
#   apps_test.sh ECHO CHAT
set -uo pipefail
echo_server=$1 chat=$2
source "$(dirname "$0")/script_support.sh"
requires nc head tr seq
check "echo --help prints its usage" prints_usage "$echo_server" echo
check "chat --help prints its usage" prints_usage "$chat" chat

reads_to_end() { within 30 cat <&"$1" >/dev/null; } # fd: within 30 s

stops_on_sigterm() { # pid
    kill -TERM "$1"
    wait_exit "$1"
    test "$status" = 0
}

# 1. echo: every line comes back, CRLF ones without their CR.
start echo "$echo_server" 127.0.0.1 0 || exit 1
long=$(head -c 10000 /dev/zero | tr '\0' e)
printf 'hello\nsecond line\r\n\n%s\n' "$long" | within 10 nc -N 127.0.0.1 "$port" >"$work/echo.nc"
check "echo sends every line back" same <(printf 'hello\nsecond line\n\n%s\n' "$long") "$work/echo.nc"
check "echo exits 0 on SIGTERM" stops_on_sigterm "$pid"

# 2. chat: three clients, nicks, notices.
start chat "$chat" 127.0.0.1 0 || exit 1
exec 4> >(nc -N 127.0.0.1 "$port" >"$work/alice.out")
also_kill+=($!)
wait_for_text "$work/alice.out" "* you are guest1; /nick NAME changes it"
send 4 "/nick alice"
check "a client renames itself" wait_for_text "$work/alice.out" "* guest1 is now alice"

exec 5> >(nc -N 127.0.0.1 "$port" >"$work/bob.out")
also_kill+=($!)
wait_for_text "$work/bob.out" "* you are guest2"
check "the others see a join" wait_for_text "$work/alice.out" "* guest2 joined"
send 5 "/nick alice" "/nick bob smith" "/nick bob"
check "a taken nick is refused" wait_for_text "$work/bob.out" "* alice is taken"
check "a nick with a space is refused" wait_for_text "$work/bob.out" "* a nick has 1 to 16 characters, no spaces"
check "the others see a rename" wait_for_text "$work/alice.out" "* guest2 is now bob"

exec 6> >(nc -N 127.0.0.1 "$port" >"$work/carol.out")
also_kill+=($!)
wait_for_text "$work/carol.out" "* you are guest3"
send 6 "/nick carol"
wait_for_text "$work/bob.out" "* guest3 is now carol"
send 4 "hello from alice"
check "a line reaches a second client" wait_for_text "$work/bob.out" "alice: hello from alice"
check "a line reaches a third client" wait_for_text "$work/carol.out" "alice: hello from alice"
send 6 "hi, I am carol"
check "everyone sees everyone's lines" wait_for_text "$work/alice.out" "carol: hi, I am carol"
exec 6>&-
check "the others see a leave" wait_for_text "$work/alice.out" "* carol left"
check "so does bob" wait_for_text "$work/bob.out" "* carol left"
check "a client does not get its own lines back" not grep -q "^alice: " "$work/alice.out"

# 3. chat: a client that never reads is dropped once the lines for it fill its
# socket's buffers and its outbox; alice, who reads, gets every line meanwhile.
exec 7<>"/dev/tcp/127.0.0.1/$port"
wait_for_text "$work/alice.out" "* guest4 joined"
send 7 "/nick slow"
wait_for_text "$work/alice.out" "* guest4 is now slow"
filler=$(head -c 900 /dev/zero | tr '\0' x)
batches=0
while [ "$batches" -lt 40 ] && ! grep -qF "* slow left" "$work/alice.out"; do
    batches=$((batches + 1))
    printf "flood $batches %s $filler\n" $(seq 500) | within 10 cat >&5
    wait_for_text "$work/alice.out" "bob: flood $batches 500 " || break
done
check "a client that does not read is dropped" wait_for_text "$work/alice.out" "* slow left"
check "the server says why" wait_for_text "$work/chat.err" "dropped slow: its client does not read"
check "bob sees it leave too" wait_for_text "$work/bob.out" "* slow left"
send 5 "still talking"
check "the others keep receiving" wait_for_text "$work/alice.out" "bob: still talking"
check "alice got every line meanwhile" test "$(grep -c "^bob: flood " "$work/alice.out")" = $((batches * 500))
check "the slow client is disconnected: it reads to the end" reads_to_end 7
exec 7<&-

check "chat exits 0 on SIGTERM with clients connected" stops_on_sigterm "$pid"
exec 4>&- 5>&-

finish apps
