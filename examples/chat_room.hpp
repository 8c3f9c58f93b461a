// The chat room of examples/chat.cpp: who is in it under which nick, and the
// lines each member has yet to receive. Plain C++, no sockets, so that tests
// drive it directly; used from one thread only, so it has no locks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

struct chat_member {
    explicit chat_member(std::function<void()> wake) : wake(std::move(wake)) {}

    std::string nick;
    std::deque<std::string> outbox; // lines for this member's client, oldest first
    std::size_t outbox_bytes = 0;
    bool dropped = false;       // its outbox overflowed: its session must end
    std::function<void()> wake; // called when a line is queued for it, or it is dropped

    std::string take()
    {
        std::string line = std::move(outbox.front());
        outbox.pop_front();
        outbox_bytes -= line.size();
        return line;
    }
};

class chat_room {
public:
    static constexpr std::size_t max_nick_length = 16;

    explicit chat_room(std::size_t max_outbox_lines = 256, std::size_t max_outbox_bytes = 64 * 1024)
        : max_outbox_lines_(max_outbox_lines), max_outbox_bytes_(max_outbox_bytes)
    {
    }

    void join(chat_member& member)
    {
        do
            member.nick = "guest" + std::to_string(++guests_);
        while (members_.contains(member.nick)); // someone may have picked it with /nick
        members_.emplace(member.nick, &member);
        tell(member, "* you are " + member.nick + "; /nick NAME changes it");
        tell_others(member, "* " + member.nick + " joined");
    }

    void leave(chat_member& member)
    {
        members_.erase(member.nick);
        tell_others(member, "* " + member.nick + " left");
    }

    // A line that the member's client sent: a command, or something to say.
    void handle(chat_member& from, std::string_view line)
    {
        if (!line.starts_with('/')) {
            if (!line.empty())
                tell_others(from, from.nick + ": " + std::string{line});
            return;
        }
        const auto space = line.find(' ');
        const auto command = line.substr(0, space);
        const auto argument = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        if (command == "/nick")
            rename(from, argument);
        else
            tell(from, "* unknown command; the only one is /nick NAME");
    }

    // Joins on construction and leaves on destruction, however the session ends.
    class membership {
    public:
        membership(chat_room& room, chat_member& member) : room_(room), member_(member) { room_.join(member_); }
        ~membership() { room_.leave(member_); }
        membership(const membership&) = delete;
        membership& operator=(const membership&) = delete;

    private:
        chat_room& room_;
        chat_member& member_;
    };

private:
    static bool valid_nick(std::string_view nick)
    {
        auto blank = [](unsigned char c) { return c <= ' ' || c == 0x7f; }; // spaces and control characters
        return !nick.empty() && nick.size() <= max_nick_length && std::ranges::none_of(nick, blank);
    }

    void rename(chat_member& member, std::string_view nick)
    {
        if (!valid_nick(nick))
            return tell(member, "* a nick has 1 to " + std::to_string(max_nick_length) + " characters, no spaces");
        if (nick == member.nick)
            return tell(member, "* you are already " + member.nick);
        if (members_.contains(nick))
            return tell(member, "* " + std::string{nick} + " is taken");
        const std::string notice = "* " + member.nick + " is now " + std::string{nick};
        members_.erase(member.nick);
        member.nick = nick;
        members_.emplace(member.nick, &member);
        tell(member, notice);
        tell_others(member, notice);
    }

    void tell_others(const chat_member& from, const std::string& line)
    {
        for (auto& [nick, member] : members_)
            if (member != &from)
                tell(*member, line);
    }

    // A member whose client does not take its lines as fast as the room talks
    // is dropped once its outbox is full. Waiting for it instead would stall
    // whoever is talking, and through them the whole room; skipping lines
    // would garble the conversation without anyone knowing.
    void tell(chat_member& to, std::string line)
    {
        if (to.dropped)
            return;
        if (to.outbox.size() == max_outbox_lines_ || to.outbox_bytes + line.size() > max_outbox_bytes_) {
            to.dropped = true;
            to.outbox.clear();
            to.outbox_bytes = 0;
        } else {
            to.outbox_bytes += line.size();
            to.outbox.push_back(std::move(line));
        }
        to.wake();
    }

    std::size_t max_outbox_lines_;
    std::size_t max_outbox_bytes_;
    std::map<std::string, chat_member*, std::less<>> members_;
    std::size_t guests_ = 0;
};
