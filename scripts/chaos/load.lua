-- wrk script for scripts/chaos.sh. Each wrk thread drives one connection, so
-- a response always answers the thread's last request and can be checked
-- against it: 90% fetch-user(id) calls (ids 1..50: hits and misses), whose
-- result must be that user's record; 10% divide(0) calls, which trap and must
-- get a 500 that says so. Counters are global so `done` can sum the threads.

local headers = { ["Content-Type"] = "application/json" }
local threads = {}
counter, last_kind, last_id = 0, nil, 0
wrong, traps, unexpected = 0, 0, 0

function setup(thread)
    table.insert(threads, thread)
end

function request()
    counter = counter + 1
    if counter % 10 == 0 then
        last_kind = "trap"
        return wrk.format("POST", "/v1/components/typed/call", headers,
            '{"export": "divide", "args": [0]}')
    end
    last_kind, last_id = "user", math.random(1, 50)
    return wrk.format("POST", "/v1/components/users/call", headers,
        string.format('{"export": "fetch-user", "args": [%d]}', last_id))
end

function response(status, _, body)
    if last_kind == "trap" then
        if status == 500 and body:find("trap", 1, true) then
            traps = traps + 1
        else
            unexpected = unexpected + 1
            io.stderr:write(string.format("unexpected %d for divide(0): %s\n", status, body))
        end
        return
    end
    if status ~= 200 then
        unexpected = unexpected + 1
        io.stderr:write(string.format("unexpected %d for fetch-user(%d): %s\n", status, last_id, body))
        return
    end
    local id = last_id
    local ok = body:find(string.format('"name":"User %d"', id), 1, true)
        and body:find(string.format('"email":"user%d@example.com"', id), 1, true)
        and body:find(string.format('"id":%d[,}]', id))
    if not ok then
        wrong = wrong + 1
        io.stderr:write(string.format("WRONG result for fetch-user(%d): %s\n", id, body))
    end
end

function done(summary)
    local w, t, u = 0, 0, 0
    for _, thread in ipairs(threads) do
        w = w + thread:get("wrong")
        t = t + thread:get("traps")
        u = u + thread:get("unexpected")
    end
    io.write(string.format("CHAOS requests=%d wrong=%d traps=%d unexpected=%d socket_errors=%d\n",
        summary.requests, w, t, u,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
