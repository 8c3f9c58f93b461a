// The chat example's room (examples/chat_room.hpp): nicks, notices, and the
// bounded outbox that drops a member who does not keep up.
#include "chat_room.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

// A member whose outbox the test reads instead of a socket.
struct test_member : chat_member {
    test_member() : chat_member([this] { ++wakes; }) {}
    int wakes = 0;

    std::vector<std::string> received()
    {
        std::vector<std::string> lines;
        while (!outbox.empty())
            lines.push_back(take());
        return lines;
    }
};

using lines = std::vector<std::string>;

} // namespace

template <>
struct doctest::StringMaker<lines> {
    static doctest::String convert(const lines& value)
    {
        std::string text = "{";
        for (const auto& line : value)
            text += (text.size() > 1 ? ", \"" : "\"") + line + "\"";
        return (text + "}").c_str();
    }
};

TEST_CASE("a newcomer gets a guest nick, and the others a join notice")
{
    chat_room room;
    test_member alice, bob;
    room.join(alice);
    room.join(bob);
    CHECK(alice.nick == "guest1");
    CHECK(bob.nick == "guest2");
    CHECK(alice.received() == lines{"* you are guest1; /nick NAME changes it", "* guest2 joined"});
    CHECK(bob.received() == lines{"* you are guest2; /nick NAME changes it"});
    CHECK(alice.wakes == 2);
}

TEST_CASE("a line goes to every other member as nick: text, not back to its sender")
{
    chat_room room;
    test_member alice, bob, carol;
    room.join(alice);
    room.join(bob);
    room.join(carol);
    alice.received();
    bob.received();
    carol.received();

    room.handle(alice, "hello all");
    room.handle(alice, ""); // an empty line says nothing
    CHECK(alice.received().empty());
    CHECK(bob.received() == lines{"guest1: hello all"});
    CHECK(carol.received() == lines{"guest1: hello all"});
}

TEST_CASE("/nick renames and tells everyone, and refuses a bad or taken nick to its sender only")
{
    chat_room room;
    test_member alice, bob;
    room.join(alice);
    room.join(bob);
    alice.received();
    bob.received();

    room.handle(alice, "/nick alice");
    CHECK(alice.nick == "alice");
    CHECK(alice.received() == lines{"* guest1 is now alice"});
    CHECK(bob.received() == lines{"* guest1 is now alice"});

    const std::string bad_nick = "* a nick has 1 to 16 characters, no spaces";
    SUBCASE("taken") {
        room.handle(bob, "/nick alice");
        CHECK(bob.received() == lines{"* alice is taken"});
    }
    SUBCASE("empty") {
        room.handle(bob, "/nick");
        room.handle(bob, "/nick ");
        CHECK(bob.received() == lines{bad_nick, bad_nick});
    }
    SUBCASE("with a space or a control character") {
        room.handle(bob, "/nick bob smith");
        room.handle(bob, "/nick bob\tsmith");
        CHECK(bob.received() == lines{bad_nick, bad_nick});
    }
    SUBCASE("too long") {
        room.handle(bob, "/nick " + std::string(chat_room::max_nick_length + 1, 'b'));
        CHECK(bob.received() == lines{bad_nick});
        const std::string longest(chat_room::max_nick_length, 'b');
        room.handle(bob, "/nick " + longest);
        CHECK(bob.nick == longest);
        CHECK(alice.received() == lines{"* guest2 is now " + longest});
    }
    SUBCASE("one's own") {
        room.handle(alice, "/nick alice");
        CHECK(alice.received() == lines{"* you are already alice"});
        CHECK(bob.received().empty());
    }
    SUBCASE("an unknown command") {
        room.handle(bob, "/quit");
        CHECK(bob.received() == lines{"* unknown command; the only one is /nick NAME"});
    }
    CHECK(alice.received().empty());
    CHECK(alice.nick == "alice");
}

TEST_CASE("a guest nick that someone picked with /nick is skipped")
{
    chat_room room;
    test_member alice, bob;
    room.join(alice);
    room.handle(alice, "/nick guest2");
    room.join(bob);
    CHECK(bob.nick == "guest3");
}

TEST_CASE("leaving tells the others and frees the nick")
{
    chat_room room;
    test_member alice, bob, carol;
    room.join(alice);
    room.join(bob);
    room.handle(bob, "/nick bob");
    alice.received();
    {
        chat_room::membership in_room(room, carol);
        CHECK(alice.received() == lines{"* guest3 joined"});
    }
    CHECK(alice.received() == lines{"* guest3 left"});
    room.leave(bob);
    CHECK(alice.received() == lines{"* bob left"});
    room.handle(alice, "/nick bob");
    CHECK(alice.nick == "bob");
}

TEST_CASE("a member whose outbox is full is dropped, and the others go on receiving")
{
    chat_room room(3, 1000);
    test_member talker, reader, slow;
    room.join(talker);
    room.join(reader);
    room.join(slow);
    talker.received();
    reader.received();
    slow.received();
    const int wakes_before = slow.wakes;

    for (const char* text : {"one", "two", "three"}) {
        room.handle(talker, text);
        reader.received(); // the reader keeps up, the slow one does not
    }
    CHECK(slow.outbox.size() == 3);
    CHECK_FALSE(slow.dropped);

    room.handle(talker, "four");
    CHECK(slow.dropped);
    CHECK(slow.outbox.empty());
    CHECK(slow.outbox_bytes == 0);
    CHECK(slow.wakes == wakes_before + 4); // a line at a time, then once more to end its session
    CHECK(reader.received() == lines{"guest1: four"});

    room.handle(talker, "five");
    CHECK(slow.outbox.empty()); // nothing more for a dropped member
    CHECK(reader.received() == lines{"guest1: five"});

    room.leave(slow); // its session ends
    CHECK(reader.received() == lines{"* guest3 left"});
    CHECK(talker.received() == lines{"* guest3 left"});
}

TEST_CASE("the outbox is bounded in bytes as well as in lines")
{
    chat_room room(100, 64);
    test_member talker, slow;
    room.join(slow);
    room.join(talker);
    slow.received();
    room.handle(talker, std::string(40, 'a')); // "guest2: " + 40 bytes
    CHECK_FALSE(slow.dropped);
    CHECK(slow.outbox_bytes == 48);
    room.handle(talker, std::string(10, 'b')); // 18 more would make 66
    CHECK(slow.dropped);
}
