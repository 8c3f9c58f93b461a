// coline::printable: peer bytes in a log cannot drive a terminal.
#include <coline/printable.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {
std::string logged(std::string_view bytes)
{
    return fmt::format("{}", coline::printable{bytes});
}
} // namespace

TEST_CASE("printable: a printable line logs as it is")
{
    CHECK(fmt::format("Buffer: {}\n", coline::printable{"SOME data"}) == "Buffer: SOME data\n");
    CHECK(logged("") == "");
    CHECK(logged("~ !\"#{}") == "~ !\"#{}");
}

TEST_CASE("printable: control characters, DEL and the backslash are escaped")
{
    CHECK(logged("\x1b[2J\x1b]0;owned\x07") == "\\x1b[2J\\x1b]0;owned\\x07");
    CHECK(logged("fake\rreal") == "fake\\x0dreal");
    CHECK(logged(std::string_view("a\0b\t\x7f", 5)) == "a\\x00b\\x09\\x7f");
    CHECK(logged("C:\\x1b") == "C:\\\\x1b"); // told apart from an escaped ESC
}

TEST_CASE("printable: valid UTF-8 stays; invalid bytes and C1 controls are escaped")
{
    CHECK(logged("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK(logged("\xc2\x9b" "2J") == "\\xc2\\x9b2J");             // CSI as a C1 control
    CHECK(logged("\x9b" "2J") == "\\x9b2J");                       // a lone continuation byte
    CHECK(logged("\xc0\xaf") == "\\xc0\\xaf");                     // overlong
    CHECK(logged("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");             // overlong
    CHECK(logged("\xed\xa0\x80") == "\\xed\\xa0\\x80");             // a surrogate
    CHECK(logged("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");     // past U+10FFFF
    CHECK(logged("\xe2\x82") == "\\xe2\\x82");                     // cut short
    CHECK(logged("\xc2\xa0") == "\xc2\xa0");                       // U+00A0, the first after C1
}

TEST_CASE("printable: plain runs between escapes, and long lines, come through whole")
{
    CHECK(logged("ab\x1b" "cd\\ef\xc3\xa9gh\x7f") == "ab\\x1bcd\\\\ef\xc3\xa9gh\\x7f");
    const std::string long_line(16384, 'x');
    CHECK(logged(long_line) == long_line);
    CHECK(logged(long_line + "\r" + long_line) == long_line + "\\x0d" + long_line);
    CHECK(fmt::format("{}|{}", coline::printable{"a\tb"}, coline::printable{"c"}) == "a\\x09b|c");
}

TEST_CASE("printable: each byte value, at each place in the words read at once, is escaped or not as it should be")
{
    for (int value = 0; value < 256; ++value) {
        const char byte = static_cast<char>(value);
        const std::string alone = value == '\\'                  ? std::string("\\\\")
                                  : value >= 0x20 && value < 0x7f ? std::string(1, byte)
                                                                  : fmt::format("\\x{:02x}", value);
        for (std::size_t at = 0; at < 17; ++at) {
            std::string line(17, 'a');
            line[at] = byte;
            CAPTURE(value);
            CAPTURE(at);
            CHECK(logged(line) == std::string(at, 'a') + alone + std::string(16 - at, 'a'));
        }
    }
}
