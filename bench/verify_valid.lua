-- wrk script for bench/run.sh's verify-valid target: every request checks
-- an unused recovery code, POST /api/v1/users/{sub}/verify {"code":...},
-- taken in order from BENCH_VALID_FILE ("sub code" lines, written by
-- bench/prepare.py). Every answer must be 200 (BENCH_EXPECT). A code works
-- once, so when this thread's share runs out it stops: wrk still divides by
-- the whole duration, so the rate is then a lower bound, and done() says
-- exhausted=N for run.sh to flag. See verify_lib.lua for the environment.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(dir .. "verify_lib.lua")

local reqs, pos, sentinel

setup = lib.setup
response = lib.response
done = lib.done

function init(args)
    lib.thread_init()
    reqs = lib.load_requests(lib.need_env("BENCH_VALID_FILE"), id or 0, nthreads or 1)
    pos = 0
    -- Sent only while the thread stops after the codes ran out; the
    -- request() calls that build it do not count in "issued".
    sentinel = wrk.format("GET", "/healthz")
end

function request()
    pos = pos + 1
    if pos > #reqs then
        if exhausted == 0 then
            lib.exhaust()
        end
        return sentinel
    end
    issued = issued + 1
    return reqs[pos]
end
