// coline: line-oriented TCP with C++20 coroutines on standalone Asio.
// Everything is in namespace coline; macros, if any, start with COLINE_.
#pragma once

#include <coline/accept.hpp>
#include <coline/connect.hpp>
#include <coline/connection.hpp>
#include <coline/error.hpp>
#include <coline/printable.hpp>
#include <coline/read_bytes.hpp>
#include <coline/read_line.hpp>
#include <coline/run_server.hpp>
#include <coline/server.hpp>
#include <coline/spawn.hpp>
#include <coline/task.hpp>
#include <coline/timeout.hpp>
#include <coline/transport.hpp>
#include <coline/use_task.hpp>
#include <coline/write_line.hpp>
