-- POST /v1/renames with a distinct public ID per request (wrk Lua).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("RENAMER_TOKEN") or "bench-token"
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"from_public_id":"bench/t%d-%d","to_public_id":"bench/t%d-%d-new","invalidate":false}',
    thread_id, counter, thread_id, counter)
  return wrk.format("POST", "/v1/renames", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
