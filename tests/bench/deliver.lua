-- wrk script for tests/bench/bench.sh: POSTs New Relic workflow alerts,
-- each with an incident id of its own, so that every request is a new
-- delivery (no redelivery short-cut) and a new issue.
--
--   wrk ... -s deliver.lua URL -- RUN_TAG [close]
--
-- "close" sends Connection: close, so every request opens a new
-- connection (and a TLS handshake). done() prints one line:
--   BENCH requests seconds p50_ms p99_ms non_2xx spooled_202 socket_errors

local threads = {}

function setup(thread)
        table.insert(threads, thread)
        thread:set("tid", #threads)
end

function init(args)
        tag = args[1] or "run"
        counter = 0
        spooled = 0
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        if args[2] == "close" then
                wrk.headers["Connection"] = "close"
        end
end

function request()
        counter = counter + 1
        local id = string.format("%s-%d-%d", tag, tid, counter)
        local body = string.format(
                '{"id":"bench-%s","title":"Benchmark alert %s",' ..
                '"priority":"HIGH","state":"ACTIVATED",' ..
                '"createdAt":1718801460513,"updatedAt":1718801461807}', id, id)
        return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
        if status == 202 then
                spooled = spooled + 1
        end
end

function done(summary, latency, requests)
        local n = 0
        for _, t in ipairs(threads) do
                n = n + t:get("spooled")
        end
        local e = summary.errors
        io.write(string.format("BENCH %d %.3f %.2f %.2f %d %d %d\n",
                summary.requests, summary.duration / 1e6,
                latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                e.status, n, e.connect + e.read + e.write + e.timeout))
end
