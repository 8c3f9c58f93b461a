// Compile-time check: the error style comes before the text. Built twice by
// tests/CMakeLists.txt: as it is (the style first), which must compile; and
// with -DCOLINE_STYLE_LAST, which must fail with coline's own message rather
// than one from inside {fmt} (a formatter for as_tuple_t).
#include <coline/coline.hpp>

coline::task<void> greet(coline::connection& conn)
{
#ifdef COLINE_STYLE_LAST
    co_await coline::write_line(conn, "Connect {}", 1, coline::as_tuple);
#else
    co_await coline::write_line(conn, coline::as_tuple, "Connect {}", 1);
#endif
}
