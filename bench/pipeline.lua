-- wrk script for bench/run.sh's healthz-pipelined target: clients that
-- pipeline as fast as they can (issue #10). Each connection sends
-- BENCH_PIPELINE_DEPTH (default 128) GET requests for the URL's path in one
-- write and the next such batch as soon as all of them are answered.
local batch

function init(args)
    local depth = tonumber(os.getenv("BENCH_PIPELINE_DEPTH") or "") or 128
    local reqs = {}
    for i = 1, depth do
        reqs[i] = wrk.format("GET")
    end
    batch = table.concat(reqs)
end

function request()
    return batch
end
