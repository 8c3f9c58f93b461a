#!/usr/bin/env bash
# Builds and runs the consumer projects in tests/consumer/, one per way of
# bringing coline into another project; each runs an exchange on loopback.
#   scripts/consumers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh libboost1.81-dev
root=$PWD
work=$root/build-consumers
rm -rf "$work" && mkdir -p "$work"
run() { # name, program: runs it and checks that it says "consumer ok"
    local out
    [ -x "$2" ] || { echo "FAILED: $1: $2 was not built"; exit 1; }
    out=$("$2" 2>&1) || { echo "FAILED: $1 exited with an error: $out"; exit 1; }
    [ "$out" = "consumer ok" ] || { echo "FAILED: $1: $out"; exit 1; }
    echo "ok: $1"
    passed=$((passed + 1))
}
passed=0
# setup.sh installs OpenSSL (libssl-dev), so coline::tls must be there.

# CMake install, then find_package(coline 0.1 CONFIG) from the prefix.
cmake -S . -B "$work/coline" -G Ninja -DCOLINE_BUILD_TESTS=OFF -DCOLINE_BUILD_EXAMPLES=OFF \
      -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/coline" >/dev/null
cmake --install "$work/coline" >/dev/null
cmake -S tests/consumer/find_package -B "$work/find_package" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/find_package" >/dev/null
run "CMake find_package from an install prefix" "$work/find_package/consumer"
run "CMake find_package, coline::tls" "$work/find_package/consumer_tls"

# add_subdirectory from the source tree (it fails to configure if coline builds its tests).
cmake -S tests/consumer/add_subdirectory -B "$work/add_subdirectory" -G Ninja -DCOLINE_SOURCE_DIR="$root" >/dev/null
cmake --build "$work/add_subdirectory" >/dev/null
run "CMake add_subdirectory" "$work/add_subdirectory/consumer"

# FetchContent_Declare(coline ...) + FetchContent_MakeAvailable (also fails if coline builds its tests).
cmake -S tests/consumer/fetch_content -B "$work/fetch_content" -G Ninja -DCOLINE_SOURCE_DIR="$root" >/dev/null
cmake --build "$work/fetch_content" >/dev/null
run "CMake FetchContent" "$work/fetch_content/consumer"
run "CMake FetchContent, coline::tls" "$work/fetch_content/consumer_tls"

# pkg-config against the installed coline.pc.
PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --exists coline
# shellcheck disable=SC2046
g++ -std=c++20 $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --cflags coline) \
    tests/consumer/main.cpp -o "$work/pkg_config" $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --libs coline)
run "g++ with pkg-config" "$work/pkg_config"
# The same with clang 16 and Debian's Asio 1.22 (CI runs clang's suite against the newest Asio).
if command -v clang++-16 >/dev/null; then
    # shellcheck disable=SC2046
    clang++-16 -std=c++20 $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --cflags coline) \
        tests/consumer/main.cpp -o "$work/pkg_config_clang" \
        $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --libs coline)
    run "clang++-16 with pkg-config" "$work/pkg_config_clang"
else
    echo "FAILED: clang++-16 is not installed (scripts/setup.sh clang-16)"
    exit 1
fi

# Meson: coline as a subproject, found by dependency('coline').
mkdir -p "$work/consumer/meson_subproject/subprojects"
cp tests/consumer/main.cpp tests/consumer/tls_main.cpp "$work/consumer/"
cp tests/consumer/meson_subproject/meson.build "$work/consumer/meson_subproject/"
ln -s "$root" "$work/consumer/meson_subproject/subprojects/coline"
meson setup "$work/meson" "$work/consumer/meson_subproject" >/dev/null
meson compile -C "$work/meson" >/dev/null
run "Meson subproject" "$work/meson/consumer"
run "Meson subproject, dependency('coline-tls')" "$work/meson/consumer_tls"

# Boost.Asio (COLINE_USE_BOOST_ASIO): add_subdirectory with the option set, an
# install made with it, and a Meson subproject with boost_asio=true.
cmake -S tests/consumer/boost_asio -B "$work/boost_asio" -G Ninja -DCOLINE_SOURCE_DIR="$root" >/dev/null
cmake --build "$work/boost_asio" >/dev/null
run "Boost.Asio: CMake add_subdirectory, COLINE_USE_BOOST_ASIO" "$work/boost_asio/consumer"
cmake -S . -B "$work/coline-boost" -G Ninja -DCOLINE_BUILD_TESTS=OFF -DCOLINE_BUILD_EXAMPLES=OFF \
      -DCOLINE_USE_BOOST_ASIO=ON -DCMAKE_INSTALL_PREFIX="$work/prefix-boost" >/dev/null
cmake --build "$work/coline-boost" >/dev/null
cmake --install "$work/coline-boost" >/dev/null
cmake -S tests/consumer/boost_find_package -B "$work/boost_find_package" -G Ninja \
      -DCMAKE_PREFIX_PATH="$work/prefix-boost" >/dev/null
cmake --build "$work/boost_find_package" >/dev/null
run "Boost.Asio: CMake find_package from an install made with it" "$work/boost_find_package/consumer"
mkdir -p "$work/consumer/boost_meson/subprojects"
cp tests/consumer/boost_main.cpp "$work/consumer/"
cp tests/consumer/boost_meson/meson.build "$work/consumer/boost_meson/"
ln -s "$root" "$work/consumer/boost_meson/subprojects/coline"
meson setup "$work/boost_meson" "$work/consumer/boost_meson" >/dev/null
meson compile -C "$work/boost_meson" >/dev/null
run "Boost.Asio: Meson subproject, boost_asio=true" "$work/boost_meson/consumer"

# GCC with the newest standalone Asio, warnings as errors: scripts/asio.sh
# unpacked it for its clang build, the one full build against it.
header=$(find . -maxdepth 5 -path './build-asio-*/asio/*version.hpp' -path '*/asio/version.hpp' | sort -V | tail -n 1)
if [ -n "$header" ]; then
    newest=$(dirname "$(dirname "$header")")
    # shellcheck disable=SC2046
    g++ -std=c++20 -Wall -Wextra -Wpedantic -Werror -isystem "$newest" \
        $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --cflags coline) tests/consumer/tls_main.cpp \
        -o "$work/gcc_newest_asio" $(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --libs coline) -lssl -lcrypto
    run "g++ -Werror with the Asio in $newest" "$work/gcc_newest_asio"
else
    echo "(no build-asio-*/asio/: run scripts/asio.sh first for the g++ check against the newest Asio)"
fi
echo "consumers: $passed passed, 0 failed"
