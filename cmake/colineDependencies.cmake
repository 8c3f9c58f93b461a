# coline's dependencies: found on the system first (Debian: libasio-dev,
# libfmt-dev, doctest-dev). With COLINE_FETCH_DEPENDENCIES=ON, what is
# missing is downloaded at configure time, at a pinned release.
include(FetchContent)
set(COLINE_FETCHED_DEPENDENCIES "")

if(COLINE_USE_BOOST_ASIO)
  # Boost.Asio is in Boost's headers (Boost.System is header-only since 1.69).
  # 1.81 (Debian 12's libboost1.81-dev, Asio 1.26) is the oldest tested.
  find_package(Boost 1.81 CONFIG)
  if(NOT Boost_FOUND)
    message(FATAL_ERROR "COLINE_USE_BOOST_ASIO needs Boost 1.81 or later: apt-get install libboost1.81-dev, "
                        "or set Boost_DIR")
  endif()
else()
  # Debian's libasio-dev ships neither a CMake package nor a pkg-config file:
  # look for the header itself.
  find_path(COLINE_ASIO_INCLUDE_DIR asio.hpp DOC "Directory holding standalone Asio's asio.hpp")
  if(NOT COLINE_ASIO_INCLUDE_DIR AND COLINE_FETCH_DEPENDENCIES)
    FetchContent_Declare(coline_asio
      URL https://github.com/chriskohlhoff/asio/archive/refs/tags/asio-1-22-1.tar.gz
      URL_HASH SHA256=30cb54a5de5e465d10ec0c2026d6b5917f5e89fffabdbabeb1475846fc9a2cf0)
    FetchContent_MakeAvailable(coline_asio) # headers only: nothing to build
    # A plain variable, not the cache entry: each configure looks on the system first again.
    set(COLINE_ASIO_INCLUDE_DIR ${coline_asio_SOURCE_DIR}/asio/include)
    list(APPEND COLINE_FETCHED_DEPENDENCIES asio)
  endif()
  if(NOT COLINE_ASIO_INCLUDE_DIR)
    message(FATAL_ERROR "coline needs standalone Asio (asio.hpp): apt-get install libasio-dev, "
                        "pass -DCOLINE_ASIO_INCLUDE_DIR=/path/to/asio/include, or -DCOLINE_FETCH_DEPENDENCIES=ON")
  endif()
endif()

find_package(fmt 9 QUIET)
if(NOT fmt_FOUND AND NOT TARGET fmt::fmt)
  if(NOT COLINE_FETCH_DEPENDENCIES)
    message(FATAL_ERROR "coline needs {fmt} 9 or later: apt-get install libfmt-dev, or -DCOLINE_FETCH_DEPENDENCIES=ON")
  endif()
  FetchContent_Declare(fmt
    URL https://github.com/fmtlib/fmt/releases/download/9.1.0/fmt-9.1.0.zip
    URL_HASH SHA256=cceb4cb9366e18a5742128cb3524ce5f50e88b476f1e54737a47ffdf4df4c996)
  FetchContent_MakeAvailable(fmt)
  list(APPEND COLINE_FETCHED_DEPENDENCIES fmt)
endif()

find_package(Threads REQUIRED)

# doctest, for coline's own tests only.
macro(coline_find_doctest)
  find_package(doctest QUIET)
  if(NOT doctest_FOUND AND NOT TARGET doctest::doctest)
    if(NOT COLINE_FETCH_DEPENDENCIES)
      message(FATAL_ERROR "coline's tests need doctest: apt-get install doctest-dev, -DCOLINE_FETCH_DEPENDENCIES=ON, "
                          "or -DCOLINE_BUILD_TESTS=OFF")
    endif()
    set(DOCTEST_WITH_TESTS OFF CACHE BOOL "")
    set(DOCTEST_NO_INSTALL ON CACHE BOOL "")
    FetchContent_Declare(doctest
      URL https://github.com/doctest/doctest/archive/refs/tags/v2.4.9.tar.gz
      URL_HASH SHA256=19b2df757f2f3703a5e63cee553d85596875f06d91a3333acd80a969ef210856)
    FetchContent_MakeAvailable(doctest)
    list(APPEND CMAKE_MODULE_PATH ${doctest_SOURCE_DIR}/scripts/cmake) # for doctest_discover_tests
  endif()
  include(doctest)
endmacro()
