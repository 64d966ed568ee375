-- wrk script for bench/run.sh's verify-invalid target: wrong six-digit codes,
-- POST /api/v1/users/{sub}/verify {"code":...}, cycling through
-- BENCH_INVALID_FILE ("sub code" lines, one per user, each code one that is
-- not that user's TOTP code for hours around the run; written by
-- bench/prepare.py). Every answer must be 422 invalid_code (BENCH_EXPECT):
-- each is a checked TOTP code and a recorded, committed failure. The users'
-- policy (lockout_wait=0, a high lockout_hard) keeps them from waits and
-- locks. See verify_lib.lua for the environment.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(dir .. "verify_lib.lua")

local reqs, pos

setup = lib.setup
response = lib.response
done = lib.done

function init(args)
    lib.thread_init()
    reqs = lib.load_requests(lib.need_env("BENCH_INVALID_FILE"), id or 0, nthreads or 1)
    if #reqs == 0 then
        io.stderr:write("bench: no lines for this thread in BENCH_INVALID_FILE\n")
        os.exit(2)
    end
    pos = 0
end

function request()
    pos = pos % #reqs + 1
    issued = issued + 1
    return reqs[pos]
end
