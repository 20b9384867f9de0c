-- wrk script of `just bench-server`: each wrk thread is one device on its
-- own keep-alive connection, posting that device's pre-sealed uploads in
-- nonce order. The directory of upload files is the script's argument.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1] .. "/device-" .. id .. ".txt"))
  device = file:read("*l")
  bodies = {}
  for line in file:lines() do
    bodies[#bodies + 1] = line
  end
  file:close()
  sent, ok, refused = 0, 0, 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  -- Past the last upload, resend it: answered as a duplicate, never counted as stored.
  sent = math.min(sent + 1, #bodies)
  return wrk.format("POST", "/aggregated/" .. device, headers, bodies[sent])
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else refused = refused + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_refused = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_refused = total_refused + t:get("refused")
  end
  io.write(string.format("RESULT ok=%d refused=%d p50_us=%d p99_us=%d\n",
    total_ok, total_refused, latency:percentile(50), latency:percentile(99)))
end
