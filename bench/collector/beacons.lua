-- wrk request generator for `bench/collector/run`: POST /collect, one beacon per request.
-- The environment variable MALFORMED_EVERY=K makes every K-th request malformed (a truncated
-- JSON object and a wrong type, alternately); 0 or unset: every request is a valid beacon.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

local every = tonumber(os.getenv("MALFORMED_EVERY") or "0")
local sent = 0

request = function()
  sent = sent + 1
  local body
  if every > 0 and sent % every == 0 then
    if (sent / every) % 2 == 0 then
      body = '{"user_id":"u-1","session_id":"s-1","event_type":"page_view","page_url":'
    else
      body = '{"user_id":7,"session_id":"s-1","event_type":"page_view","page_url":"/p"}'
    end
  else
    body = string.format(
      '{"user_id":"u-%d","session_id":"s-%d","event_type":"page_view","page_url":"/p/%d"}',
      sent % 1000, sent % 5000, sent % 50)
  end
  return wrk.format(nil, "/collect", nil, body)
end
