"""The Lua scripts the Redis standing store runs: each one change Redis makes whole."""

from __future__ import annotations

# Replace the subject's entry only with a newer one; entries are "<order key>|<event JSON>".
# A replacement bumps the hash's version (KEYS[2]: ``id``, set by the writer that creates it,
# ARGV[4]; ``n``, entries written) and files the subject under that number (KEYS[3]).
SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.sub(current, 1, string.len(ARGV[2])) >= ARGV[2] then
    return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('HSETNX', KEYS[2], 'id', ARGV[4])
redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[2], 'n', 1), ARGV[1])
return 1
"""

# The version (id, n), then (subject, entry) of the subjects written since version ARGV (the
# whole hash when the id is another: Redis came back empty), nothing more when it is ARGV.
CHANGED_SINCE = """
local v = redis.call('HMGET', KEYS[2], 'id', 'n')
local id, n = v[1] or '', v[2] or '0'
local out = {id, n}
if id == ARGV[1] and n == ARGV[2] then
    return out
end
if id == ARGV[1] and tonumber(n) > tonumber(ARGV[2]) then
    for _, subject in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf')) do
        local entry = redis.call('HGET', KEYS[1], subject)
        if entry then
            out[#out + 1] = subject
            out[#out + 1] = entry
        end
    end
    return out
end
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do
    out[#out + 1] = value
end
return out
"""


# Add stream entries past the mark of the last one written of their node (an entry without a
# mark always); ARGV: the stream's cap, then (mark, event, origin, boot, n) per entry. An entry
# without n is one a later process wrote for ``boot`` (its node's last one to write): no envelope.
ADD_RECENT = """
local marks = {}
local added = 0
for i = 2, #ARGV, 5 do
    local mark, origin = ARGV[i], ARGV[i + 2]
    if mark == '' then
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 1])
        added = added + 1
    else
        if marks[origin] == nil then
            marks[origin] = redis.call('HGET', KEYS[2], origin) or ''
        end
        if mark > marks[origin] and ARGV[i + 4] == '' then
            redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 1],
                       'o', origin, 'r', ARGV[i + 3])
            marks[origin] = mark
            added = added + 1
        elseif mark > marks[origin] then
            redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 1],
                       'o', origin, 'b', ARGV[i + 3], 'n', ARGV[i + 4])
            marks[origin] = mark
            added = added + 1
        end
    end
end
for origin, mark in pairs(marks) do
    redis.call('HSET', KEYS[2], origin, mark)
end
return added
"""
