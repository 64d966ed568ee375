-- Shared by verify_valid.lua and verify_invalid.lua (loaded with dofile):
-- reads "sub code" lines into ready-made requests for
-- POST /api/v1/users/{sub}/verify, and counts answers whose status is not
-- the expected one (BENCH_EXPECT), which done() prints on one line that
-- bench/run.sh reads:
--
--   bench-lua: expect=200 answers=N unexpected=N statuses=422:3,500:1 exhausted=T lasted=S rate=R requests=N first=...
--
-- exhausted: threads whose pool of single-use codes ran out; lasted: the
-- seconds the longest-lasting of them ran; rate: their summed req/s while
-- their pools lasted (0 when unknown); first: the first unexpected answer.
--
-- Environment (set by bench/run.sh):
--   BENCH_AUTH         the Authorization header value ("Basic ...")
--   BENCH_EXPECT       the status every answer must have
--   BENCH_WRK_THREADS  wrk -t, so each thread takes its own share of lines
--   BENCH_ALT_ADDR     host:port of a second server for every other thread
local lib = {}

-- A monotonic clock in seconds through LuaJIT's ffi (nil without it), to
-- time how long a pool of single-use codes lasted.
local clock
do
    local ok, ffi = pcall(require, "ffi")
    if ok then
        ok = pcall(ffi.cdef, [[
            typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
            int clock_gettime(int clk_id, bench_timespec_t *tp);
        ]])
    end
    if ok then
        local ts = ffi.new("bench_timespec_t")
        clock = function()
            ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
            return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
        end
    end
end

local function need_env(name)
    local v = os.getenv(name)
    if v == nil or v == "" then
        io.stderr:write("bench: " .. name .. " is not set\n")
        os.exit(2)
    end
    return v
end
lib.need_env = need_env

-- Requests for this thread: every nthreads-th line of path from line id.
function lib.load_requests(path, id, nthreads)
    local headers = {
        ["Authorization"] = need_env("BENCH_AUTH"),
        ["Content-Type"] = "application/json",
    }
    local f, err = io.open(path, "r")
    if not f then
        io.stderr:write("bench: cannot read " .. tostring(err) .. "\n")
        os.exit(2)
    end
    local reqs, n = {}, 0
    for line in f:lines() do
        local sub, code = line:match("^(%S+)%s+(%S+)$")
        if sub then
            if n % nthreads == id then
                reqs[#reqs + 1] = wrk.format("POST", "/api/v1/users/" .. sub .. "/verify",
                    headers, '{"code":"' .. code .. '"}')
            end
            n = n + 1
        end
    end
    f:close()
    return reqs
end

-- The running phase, per thread: the state response() and done() share.
function lib.thread_init()
    expect = tonumber(need_env("BENCH_EXPECT"))
    answers, unexpected, issued, exhausted = 0, 0, 0, 0
    statuses = {}
    first = ""
    started, lasted, answers_then = clock and clock() or 0, 0, 0
end

-- Marks this thread's pool as used up: the answers so far and the time they
-- took give the rate while the pool lasted.
function lib.exhaust()
    exhausted = 1
    answers_then = answers
    lasted = clock and clock() - started or 0
    wrk.thread:stop()
end

function lib.response(status, headers, body)
    answers = answers + 1
    if status ~= expect then
        unexpected = unexpected + 1
        statuses[status] = (statuses[status] or 0) + 1
        if first == "" then
            first = tostring(status) .. " " .. (body or ""):sub(1, 200):gsub("%s+", " ")
        end
    end
end

-- The setup and done phase (the main state): collects every thread's counts.
local threads = {}
local next_id = 0

-- BENCH_ALT_ADDR ("host:port"): every other thread talks to that server
-- instead (two otpgate instances sharing one database, bench/run.sh).
local alt = os.getenv("BENCH_ALT_ADDR")

function lib.setup(thread)
    if alt and alt ~= "" and next_id % 2 == 1 then
        local host, port = alt:match("^(.*):(%d+)$")
        thread.addr = wrk.lookup(host, port)[1]
    end
    thread:set("id", next_id)
    thread:set("nthreads", tonumber(os.getenv("BENCH_WRK_THREADS") or "1") or 1)
    next_id = next_id + 1
    threads[#threads + 1] = thread
end

function lib.done(summary, latency, requests)
    local e, a, u, x, r, f = nil, 0, 0, 0, 0, ""
    local lasted, rate = 0, 0
    local all = {}
    for _, t in ipairs(threads) do
        e = e or t:get("expect")
        a = a + (t:get("answers") or 0)
        u = u + (t:get("unexpected") or 0)
        x = x + (t:get("exhausted") or 0)
        r = r + (t:get("issued") or 0)
        if f == "" then f = t:get("first") or "" end
        local l = t:get("lasted") or 0
        if l > 0 then
            lasted = math.max(lasted, l)
            rate = rate + (t:get("answers_then") or 0) / l
        end
        for s, c in pairs(t:get("statuses") or {}) do
            all[s] = (all[s] or 0) + c
        end
    end
    local list = {}
    for s, c in pairs(all) do list[#list + 1] = s .. ":" .. c end
    table.sort(list)
    io.write(string.format("bench-lua: expect=%s answers=%d unexpected=%d statuses=%s " ..
        "exhausted=%d lasted=%.2f rate=%.0f requests=%d first=%s\n", tostring(e), a, u,
        #list > 0 and table.concat(list, ",") or "-", x, lasted, rate, r, f))
end

return lib
