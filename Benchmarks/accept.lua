-- POST /v1/renames with a distinct public ID per request (wrk Lua).
-- Environment: RENAMER_TOKEN (bearer token), RENAMER_RUN (public-ID prefix for this run, default
-- none: bench/t<thread>-<n>), RENAMER_INVALIDATE (true|false, default false), RENAMER_CALLBACK
-- (callback_url, default none), RENAMER_LIMIT (answers per wrk thread, then that thread stops;
-- default none: wrk's duration decides).
local counter = 0
local threads = {}
-- thread_id is a global that setup() sets in each thread's Lua state (a local would shadow it).

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("RENAMER_TOKEN") or "bench-token"
  run = os.getenv("RENAMER_RUN") or ""
  invalidate = os.getenv("RENAMER_INVALIDATE") or "false"
  local callback = os.getenv("RENAMER_CALLBACK")
  extra = callback and string.format(',"callback_url":"%s"', callback) or ""
  limit = tonumber(os.getenv("RENAMER_LIMIT") or "")
  answered = 0
  if limit then
    response = function(status, headers, body)
      answered = answered + 1
      if answered >= limit then wrk.thread:stop() end
    end
  end
end

request = function()
  counter = counter + 1
  local from = string.format("bench/%st%d-%d", run, thread_id or 0, counter)
  local body = string.format('{"from_public_id":"%s","to_public_id":"%s-new","invalidate":%s%s}', from, from, invalidate, extra)
  return wrk.format("POST", "/v1/renames", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
