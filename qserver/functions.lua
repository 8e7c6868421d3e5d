#!lua name=qhall
-- qhall: every state change of a service hall as one atomic Redis Function call.
-- The contract with qserver is docs/functions.md, the keys are in docs/keys.md and the
-- estimates (ahead, ewt) are explained in docs/estimated-wait.md.
--
-- Rules that hold throughout:
--  * every key starts with KEYS[1] (the site prefix with its hash tag);
--  * times come from ARGV[1] (qserver's clock), never from Redis, except the deadline check
--    and the stream trimming, which are about real time;
--  * a function validates everything before its first write, because Redis does not roll
--    back a function's writes when it returns an error;
--  * JSON is built by hand so keys keep their order, empty arrays are [] and integers never
--    come out in exponent form.

local CLASSES = {'priority', 'appointment', 'normal'}
local CLASS_RANK = {priority = 1, appointment = 2, normal = 3}
local OPEN_STATES = {idle = true, calling = true, serving = true}
local DAY_KEY_TTL = 3 * 86400 -- numbering keys outlive their day by two days
local DEFAULT_RETENTION_DAYS = 90
local DEFAULT_SERVICE_TIME = 300
local EWMA_ALPHA = 0.2
local RECENT_CALLS = 10
local REF_MAX = 64
local CHANNEL_MAX = 32
local REASON_MAX = 200
local QUEUE_LIMIT_DEFAULT, QUEUE_LIMIT_MAX = 100, 1000
-- Queue scores are queued_time * 1e6 + (take_seq mod 1e6): exact in a double until 2255.
local SCORE_SCALE = 1000000

-- Per-call state, set by the wrapper in register() before each call.
local P         -- KEYS[1], the site prefix
local NOW       -- ARGV[1] as a number
local DAY       -- the effective day, YYYY-MM-DD
local EXPIRED   -- tickets expired by this call's day change
local cache     -- counts and config read during this call; cleared by every queue or window write

------------------------------------------------------------------------------------------
-- Small helpers

-- Refuses the request; the wrapper turns this into "<CODE> <field> <message>".
local function fail(code, field, message)
  error({qh_err = code .. ' ' .. (field or '-') .. ' ' .. message}, 0)
end

-- Builds a key under the site prefix: k('t', id) is "<prefix>:t:<id>".
local function k(...)
  return P .. ':' .. table.concat({...}, ':')
end

-- A JSON string, or null for nil and "" (the hashes store absent values as "").
local function jstr(s)
  if s == nil or s == '' then return 'null' end
  return cjson.encode(s)
end

-- A JSON integer, or null for nil and ""; '%d' because cjson switches to exponents.
local function jint(v)
  if v == nil or v == '' then return 'null' end
  return string.format('%d', tonumber(v))
end

-- A JSON object from key, raw-JSON pairs, in the order given.
local function jobj(...)
  local a = {...}
  local parts = {}
  for i = 1, #a, 2 do
    parts[#parts + 1] = '"' .. a[i] .. '":' .. a[i + 1]
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- A JSON array from raw-JSON items; [] when empty (cjson would write {}).
local function jarr(items)
  return '[' .. table.concat(items, ',') .. ']'
end

-- A number as an integer string for Redis arguments (tostring would round large scores).
local function istr(n)
  return string.format('%.0f', n)
end

-- Reads a hash into a table, or nil when the key does not exist.
local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

-- Writes fields to a hash and mirrors them into the table that holds it.
local function hset(key, tbl, fields)
  local args = {}
  for f, v in pairs(fields) do
    tbl[f] = v
    args[#args + 1] = f
    args[#args + 1] = v
  end
  redis.call('HSET', key, unpack(args))
end

-- Splits "a,b,c" into {'a','b','c'}.
local function split(s)
  local out = {}
  for item in string.gmatch(s or '', '[^,]+') do out[#out + 1] = item end
  return out
end

-- Counts UTF-8 characters (bytes that are not continuation bytes).
local function utf8_len(s)
  local _, cont = string.gsub(s, '[\128-\191]', '')
  return #s - cont
end

-- Parses a decimal integer argument, refusing anything else or a value out of [lo, hi].
local function int_arg(s, field, lo, hi)
  if type(s) ~= 'string' or not s:match('^%-?%d+$') or #s > 15 then
    fail('BAD_REQUEST', field, field .. ' must be an integer')
  end
  local n = tonumber(s)
  if lo and hi and (n < lo or n > hi) then
    fail('BAD_REQUEST', field, field .. ' must be between ' .. lo .. ' and ' .. hi)
  elseif lo and n < lo then
    fail('BAD_REQUEST', field, field .. ' must be at least ' .. lo)
  end
  return n
end

-- A value counted once per call; the cache is dropped whenever a queue or window changes.
local function cached(key, compute)
  local v = cache[key]
  if v == nil then
    v = compute()
    cache[key] = v
  end
  return v
end

------------------------------------------------------------------------------------------
-- Site, services and windows

-- The site settings stored by qh_setup.
local function cfg()
  return cached('cfg', function() return hgetall(k('cfg')) or {} end)
end

-- True when the hall has a comprehensive window: then every service competes with every other.
local function hall_is_comprehensive()
  return tonumber(cfg().comprehensive or '0') > 0
end

-- The service ids in config order.
local function service_ids()
  return cached('svcs', function() return redis.call('LRANGE', k('svcs'), 0, -1) end)
end

-- A service hash (prefix, name, name_en, service_time, ewma, peers), or nil.
local function service(id)
  if id == nil or id == '' then return nil end
  return cached('svc:' .. id, function() return hgetall(k('svc', id)) or false end) or nil
end

-- The learnt service time of a service in whole seconds (T of docs/estimated-wait.md).
local function service_time(id)
  local s = service(id)
  local t = s and (tonumber(s.ewma) or tonumber(s.service_time)) or DEFAULT_SERVICE_TIME
  return math.floor(t + 0.5)
end

-- A window hash with its id, or nil.
local function window(id)
  local w = hgetall(k('w', id))
  if w then w.id = id end
  return w
end

-- Loads the window an argument names, refusing a malformed or unknown one.
local function load_window(arg, field)
  field = field or 'window'
  local n = int_arg(arg, field, 1, 999999)
  local w = window(tostring(n))
  if not w then fail('NOT_FOUND', field, 'window ' .. n .. ' does not exist') end
  return w
end

-- The service ids a specialised window serves (empty for a comprehensive one).
local function window_services(w)
  if w.comp == '1' then return {} end
  return cjson.decode(w.services)
end

-- True when the window may call tickets of the service.
local function window_serves(w, sid)
  if w.comp == '1' then return true end
  return redis.call('SISMEMBER', k('svcwin', sid), w.id) == 1
end

-- The services whose estimates change when the window opens or shuts.
local function window_affects(w)
  if w.comp == '1' then return service_ids() end
  return window_services(w)
end

-- Sets window fields, keeping the set of open windows in step with its state.
local function wset(w, fields)
  if fields.state and fields.state ~= w.state then
    fields.since = tostring(NOW)
    if OPEN_STATES[fields.state] then
      redis.call('SADD', k('open'), w.id)
    else
      redis.call('SREM', k('open'), w.id)
    end
  end
  hset(k('w', w.id), w, fields)
  cache = {}
end

------------------------------------------------------------------------------------------
-- Tickets and queues

-- A ticket hash with its fields as strings ("" for absent), or nil.
local function ticket(id)
  if id == nil or id == '' then return nil end
  return hgetall(k('t', id))
end

-- Finds a ticket by id ("20261128-A012") or by today's number ("A012").
local function find_ticket(ref)
  local id = ref
  if not string.find(ref, '-', 1, true) then
    id = redis.call('HGET', k('num', DAY), ref)
    if not id then return nil end
  end
  return ticket(id)
end

-- Sets ticket fields.
local function tset(t, fields)
  hset(k('t', t.id), t, fields)
end

-- The zsets ("bases" <prefix>:wq:<base>:<class>) a waiting ticket sits in: one pinned
-- window's queue, or its service's queue plus the hall-wide one.
local function ticket_bases(t)
  if t.pin ~= nil and t.pin ~= '' then return {'w' .. t.pin} end
  return {t.service, '*'}
end

-- Puts a ticket into its queues at its score.
local function enqueue(t)
  for _, b in ipairs(ticket_bases(t)) do
    redis.call('ZADD', k('wq', b, t.class), t.score, t.id)
  end
  if t.pin ~= nil and t.pin ~= '' then
    -- remembered so the day change and the hall queue find pinned queues without scanning
    redis.call('SADD', k('pinwins'), t.pin)
  end
  cache = {}
end

-- Takes a ticket out of its queues.
local function dequeue(t)
  for _, b in ipairs(ticket_bases(t)) do
    redis.call('ZREM', k('wq', b, t.class), t.id)
  end
  cache = {}
end

-- A new queue score at NOW: later arrivals sort after earlier ones, ties by take order.
local function new_score()
  local seq = redis.call('INCR', k('take_seq'))
  return istr(NOW * SCORE_SCALE + seq % SCORE_SCALE)
end

-- The queue bases a window calls from: its pinned queue plus the hall-wide queues
-- (comprehensive) or the queues of its services (specialised).
local function window_bases(w)
  local bases = {'w' .. w.id}
  if w.comp == '1' then
    bases[2] = '*'
  else
    for _, s in ipairs(window_services(w)) do bases[#bases + 1] = s end
  end
  return bases
end

-- The queue bases that compete with a service for its windows (docs/estimated-wait.md).
local function service_bases(sid)
  if hall_is_comprehensive() then return {'*'} end
  local s = service(sid)
  if s and s.peers and s.peers ~= '' then return split(s.peers) end
  return {sid}
end

-- ZCARD, counted once per call.
local function zcard(key)
  return cached('zcard:' .. key, function() return redis.call('ZCARD', key) end)
end

-- Tickets in the bases called before a ticket of the class at the score
-- (score nil: a new ticket at the back of its class).
local function count_ahead(bases, class, score)
  local rank = CLASS_RANK[class]
  local n = 0
  for _, b in ipairs(bases) do
    for r = 1, rank - 1 do n = n + zcard(k('wq', b, CLASSES[r])) end
    if score then
      n = n + redis.call('ZCOUNT', k('wq', b, class), '-inf', '(' .. score)
    else
      n = n + zcard(k('wq', b, class))
    end
  end
  return n
end

-- Open windows (idle, calling, serving) that serve the service, at least 1.
local function open_windows(sid)
  local n = cached('open:' .. sid, function()
    return redis.call('SINTERCARD', 2, k('svcwin', sid), k('open'))
  end)
  return math.max(n, 1)
end

-- ahead and ewt of a waiting ticket.
local function estimate(t)
  local bases, n
  if t.pin ~= nil and t.pin ~= '' then
    -- a pinned ticket competes for its one window with everything that window calls
    local w = window(t.pin)
    bases = w and window_bases(w) or {'w' .. t.pin}
    n = 1
  else
    bases = service_bases(t.service)
    n = open_windows(t.service)
  end
  local ahead = count_ahead(bases, t.class, t.score)
  return ahead, math.ceil(ahead / n) * service_time(t.service)
end

-- Tickets waiting in a service, all classes, not counting tickets pinned to a window.
local function service_waiting(sid)
  local n = 0
  for _, c in ipairs(CLASSES) do n = n + zcard(k('wq', sid, c)) end
  return n
end

-- Estimated wait of a new normal ticket of the service.
local function service_ewt(sid)
  local ahead = count_ahead(service_bases(sid), 'normal', nil)
  return math.ceil(ahead / open_windows(sid)) * service_time(sid)
end

------------------------------------------------------------------------------------------
-- JSON objects of PROTOCOL.md

-- The Ticket object; ahead and ewt only while it waits.
local function ticket_json(t)
  local ahead, ewt = 'null', 'null'
  if t.state == 'waiting' then
    local a, e = estimate(t)
    ahead, ewt = jint(a), jint(e)
  end
  return jobj('id', jstr(t.id), 'number', jstr(t.number), 'service', jstr(t.service),
    'class', jstr(t.class), 'channel', jstr(t.channel), 'state', jstr(t.state),
    'issued_at', jint(t.issued_at), 'called_at', jint(t.called_at),
    'started_at', jint(t.started_at), 'finished_at', jint(t.finished_at),
    'window', jint(t.window), 'clerk', jstr(t.clerk), 'recalls', jint(t.recalls),
    'transfers', jint(t.transfers), 'rating', jint(t.rating), 'ahead', ahead, 'ewt', ewt)
end

-- The Window object; reason only while paused.
local function window_json(w)
  local fields = {'id', jint(w.id), 'name', cjson.encode(w.name or ''),
    'name_en', cjson.encode(w.name_en or ''), 'services', w.services,
    'state', jstr(w.state), 'ticket', jstr(w.number), 'clerk', jstr(w.clerk)}
  if w.state == 'paused' then
    fields[#fields + 1] = 'reason'
    fields[#fields + 1] = cjson.encode(w.reason or '')
  end
  return jobj(unpack(fields))
end

-- The Service object with live waiting and ewt.
local function service_json(sid)
  local s = service(sid) or {}
  return jobj('id', cjson.encode(sid), 'prefix', cjson.encode(s.prefix or ''),
    'name', cjson.encode(s.name or ''), 'name_en', cjson.encode(s.name_en or ''),
    'waiting', jint(service_waiting(sid)), 'ewt', jint(service_ewt(sid)))
end

-- Every configured service.
local function services_json()
  local items = {}
  for _, sid in ipairs(service_ids()) do items[#items + 1] = service_json(sid) end
  return jarr(items)
end

------------------------------------------------------------------------------------------
-- Events

-- The stream id below which entries are older than the retention (real time, as the ids are).
local function minid()
  return cached('minid', function()
    local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
    local now = tonumber(redis.call('TIME')[1])
    return istr(math.max(now - days * 86400, 0) * 1000)
  end)
end

-- Records one event in the stream and publishes it with its stream id.
local function emit(kind, json)
  local id = redis.call('XADD', k('events'), 'MINID', '~', minid(), '*', 'type', kind, 'data', json)
  redis.call('PUBLISH', k('ev'), id .. ' ' .. json)
end

-- A ticket event.
local function emit_ticket(t)
  emit('ticket', jobj('event', '"ticket"', 'ticket', ticket_json(t)))
end

-- A window event.
local function emit_window(w)
  emit('window', jobj('event', '"window"', 'window', window_json(w)))
end

-- A queue event for one service (skipped for a service no longer configured).
local function emit_queue(sid)
  if not service(sid) then return end
  emit('queue', jobj('event', '"queue"', 'service', cjson.encode(sid),
    'waiting', jint(service_waiting(sid)), 'ewt', jint(service_ewt(sid))))
end

-- Queue events for a list of services, each once.
local function emit_queues(sids)
  local seen = {}
  for _, sid in ipairs(sids) do
    if not seen[sid] then
      seen[sid] = true
      emit_queue(sid)
    end
  end
end

-- A called event: the display announces the ticket at the window.
local function emit_called(t, w, recall)
  emit('called', jobj('event', '"called"', 'ticket', ticket_json(t),
    'window', jobj('id', jint(w.id), 'name', cjson.encode(w.name or ''),
      'name_en', cjson.encode(w.name_en or '')),
    'recall', jint(recall), 'at', jint(NOW)))
end

------------------------------------------------------------------------------------------
-- Transitions shared by the functions

-- Feeds a finished ticket's service time (call to finish) into its service's EWMA.
local function learn_service_time(t)
  local s = service(t.service)
  if not s or t.called_at == '' then return end
  local took = tonumber(t.finished_at) - tonumber(t.called_at)
  if took < 0 then return end
  local old = tonumber(s.ewma) or tonumber(s.service_time) or DEFAULT_SERVICE_TIME
  local ewma = string.format('%.3f', EWMA_ALPHA * took + (1 - EWMA_ALPHA) * old)
  redis.call('HSET', k('svc', t.service), 'ewma', ewma)
  s.ewma = ewma
end

-- The one place where a ticket reaches a final state (done, no_show, cancelled, expired):
-- the per-day statistics of DESIGN decision 4 hook in here.
local function settle(t, fields)
  tset(t, fields)
  if t.state == 'done' then learn_service_time(t) end
end

-- Finishes the ticket called or serving at a window; returns it, or nil when there was none.
local function finish_current(w)
  local t = ticket(w.ticket)
  if not t or (t.state ~= 'called' and t.state ~= 'serving') then return nil end
  settle(t, {state = 'done', finished_at = tostring(NOW)})
  return t
end

-- Calls a waiting ticket to a window: out of its queues, onto the window, announced.
local function call_ticket(w, t, clerk)
  dequeue(t)
  tset(t, {state = 'called', called_at = tostring(NOW), started_at = '',
    window = w.id, clerk = clerk ~= '' and clerk or (w.clerk or '')})
  wset(w, {state = 'calling', ticket = t.id, number = t.number})
  redis.call('LPUSH', k('recent'), jobj('number', jstr(t.number), 'window', jint(w.id),
    'at', jint(NOW)))
  redis.call('LTRIM', k('recent'), 0, RECENT_CALLS - 1)
  emit_ticket(t)
  emit_called(t, w, 0)
  emit_window(w)
  emit_queue(t.service)
end

-- The next ticket for a window: first class with anyone waiting, smallest score within it.
local function next_for_window(w)
  local bases = window_bases(w)
  for _, class in ipairs(CLASSES) do
    local best_id, best_score
    for _, b in ipairs(bases) do
      local r = redis.call('ZRANGE', k('wq', b, class), 0, 0, 'WITHSCORES')
      if r[1] then
        local score = tonumber(r[2])
        if not best_score or score < best_score then
          best_id, best_score = r[1], score
        end
      end
    end
    if best_id then return ticket(best_id) end
  end
  return nil
end

-- The window's ticket when it is in one of the given states, else a CONFLICT.
local function window_ticket(w, states, doing)
  local t = ticket(w.ticket)
  if not t or not states[t.state] then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' has no ticket to ' .. doing)
  end
  return t
end

-- Frees a window after its ticket left it.
local function window_idle(w)
  wset(w, {state = 'idle', ticket = '', number = ''})
end

-- Refuses to call at a window that is not open.
local function check_window_open(w)
  if w.state == 'closed' or w.state == 'paused' then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' is ' .. w.state .. '; open or resume it first')
  end
end

-- Day change: expires every waiting ticket of an earlier day. Returns how many expired.
local function change_day(day)
  local stored = redis.call('GET', k('day'))
  if stored and stored >= day then
    DAY = stored -- a lagging clock never moves the day back
    return 0
  end
  DAY = day
  redis.call('SET', k('day'), day)
  if not stored then return 0 end
  -- the hall-wide queues hold every unpinned waiting ticket; pinned ones sit in pinwins' queues
  local bases = {'*'}
  for _, pw in ipairs(redis.call('SMEMBERS', k('pinwins'))) do bases[#bases + 1] = 'w' .. pw end
  local expired = 0
  for _, b in ipairs(bases) do
    for _, class in ipairs(CLASSES) do
      for _, id in ipairs(redis.call('ZRANGE', k('wq', b, class), 0, -1)) do
        local t = ticket(id)
        if not t then
          -- the hash outlived its retention: just drop the id
          redis.call('ZREM', k('wq', b, class), id)
        elseif t.state == 'waiting' and (t.day or '') < day then
          dequeue(t)
          settle(t, {state = 'expired'})
          emit_ticket(t)
          expired = expired + 1
        end
      end
    end
    if b ~= '*' and redis.call('EXISTS', k('wq', b, 'priority'), k('wq', b, 'appointment'),
        k('wq', b, 'normal')) == 0 then
      redis.call('SREM', k('pinwins'), string.sub(b, 2))
    end
  end
  if expired > 0 then emit_queues(service_ids()) end
  return expired
end

-- Refuses a writing call that starts after qserver's deadline (real time, in ms).
local function check_deadline(deadline)
  if deadline == nil or deadline == '' or deadline == '0' then return end
  local d = int_arg(deadline, 'deadline_ms')
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > d then
    fail('UNAVAILABLE', '-', 'the request timed out')
  end
end

------------------------------------------------------------------------------------------
-- The functions of docs/functions.md. Each gets its op arguments (ARGV[4..]) as a table.

-- qh_setup: stores the hall config and creates missing windows closed, keeping live state.
local function qh_setup(a)
  local ok, hall = pcall(cjson.decode, a[1] or '')
  if not ok or type(hall) ~= 'table' then
    fail('BAD_REQUEST', 'hall', 'the hall config is not a JSON object')
  end
  local site = type(hall.site) == 'table' and hall.site or {}
  local services = hall.services
  local windows = hall.windows
  if type(services) ~= 'table' or #services == 0 then
    fail('BAD_REQUEST', 'hall', 'the hall config needs at least one service')
  end
  if type(windows) ~= 'table' then windows = {} end
  local svc_ids, known = {}, {}
  for i, s in ipairs(services) do
    if type(s) ~= 'table' or type(s.id) ~= 'string' or not s.id:match('^[%w_%.%-]+$') then
      fail('BAD_REQUEST', 'hall', 'service ' .. i .. ' needs an id of letters, digits, _ . -')
    end
    if known[s.id] then fail('BAD_REQUEST', 'hall', 'service ' .. s.id .. ' appears twice') end
    local prefix = s.prefix == nil and s.id or s.prefix
    if type(prefix) ~= 'string' or not prefix:match('^%w+$') then
      fail('BAD_REQUEST', 'hall', 'service ' .. s.id .. ' needs a prefix of letters and digits')
    end
    if s.service_time ~= nil and (type(s.service_time) ~= 'number' or s.service_time <= 0) then
      fail('BAD_REQUEST', 'hall', 'service ' .. s.id .. ' needs a positive service_time')
    end
    known[s.id] = true
    svc_ids[i] = s.id
  end
  local win_ids, seen_win, ncomp = {}, {}, 0
  for i, w in ipairs(windows) do
    if type(w) ~= 'table' or type(w.id) ~= 'number' or w.id < 1 or w.id % 1 ~= 0 then
      fail('BAD_REQUEST', 'hall', 'window ' .. i .. ' needs a positive integer id')
    end
    local id = string.format('%d', w.id)
    if seen_win[id] then fail('BAD_REQUEST', 'hall', 'window ' .. id .. ' appears twice') end
    seen_win[id] = true
    if type(w.services) ~= 'table' or #w.services == 0 then
      fail('BAD_REQUEST', 'hall', 'window ' .. id .. ' needs a list of services')
    end
    for _, sid in ipairs(w.services) do
      if sid == '*' then
        w.comp = true
      elseif not known[sid] then
        fail('BAD_REQUEST', 'hall', 'window ' .. id .. ' serves unknown service ' .. tostring(sid))
      end
    end
    if w.comp then ncomp = ncomp + 1 end
    win_ids[i] = id
  end

  -- all checked: write
  redis.call('HSET', k('cfg'), 'site', tostring(site.id or ''),
    'sla', string.format('%d', tonumber(site.sla) or 900),
    'retention_days', string.format('%d', tonumber(site.retention_days) or DEFAULT_RETENTION_DAYS),
    'comprehensive', tostring(ncomp))
  for _, old in ipairs(redis.call('LRANGE', k('svcs'), 0, -1)) do
    if not known[old] then
      -- waiting tickets of a dropped service stay queued (callable by comprehensive windows)
      -- until they are called or expire
      redis.call('DEL', k('svc', old), k('svcwin', old))
    end
  end
  redis.call('DEL', k('svcs'))
  for _, s in ipairs(services) do
    local st = string.format('%d', s.service_time or DEFAULT_SERVICE_TIME)
    redis.call('RPUSH', k('svcs'), s.id)
    redis.call('HSET', k('svc', s.id), 'prefix', s.prefix == nil and s.id or s.prefix,
      'name', tostring(s.name or ''), 'name_en', tostring(s.name_en or ''), 'service_time', st)
    -- keep what the estimate has learnt across restarts; seed it the first time
    redis.call('HSETNX', k('svc', s.id), 'ewma', st)
    redis.call('DEL', k('svcwin', s.id))
  end
  for _, old in ipairs(redis.call('LRANGE', k('wins'), 0, -1)) do
    if not seen_win[old] then
      redis.call('DEL', k('w', old))
      redis.call('SREM', k('open'), old)
    end
  end
  redis.call('DEL', k('wins'), k('open'))
  local serving = {} -- service id -> list of windows serving it
  for i, w in ipairs(windows) do
    local id = win_ids[i]
    local list = {}
    if w.comp then
      list = {'"*"'}
    else
      for _, sid in ipairs(w.services) do list[#list + 1] = cjson.encode(sid) end
    end
    redis.call('RPUSH', k('wins'), id)
    local exists = redis.call('EXISTS', k('w', id)) == 1
    redis.call('HSET', k('w', id), 'name', tostring(w.name or ''),
      'name_en', tostring(w.name_en or ''), 'services', jarr(list), 'comp', w.comp and '1' or '0')
    if not exists then
      redis.call('HSET', k('w', id), 'state', 'closed', 'ticket', '', 'number', '', 'clerk', '',
        'holder', '', 'lease_until', '', 'reason', '', 'since', tostring(NOW))
    elseif OPEN_STATES[redis.call('HGET', k('w', id), 'state')] then
      redis.call('SADD', k('open'), id)
    end
    for _, sid in ipairs(w.comp and svc_ids or w.services) do
      redis.call('SADD', k('svcwin', sid), id)
      serving[sid] = serving[sid] or {}
      table.insert(serving[sid], w)
    end
  end
  -- peers: the services competing with a service for its windows (specialised halls)
  for _, sid in ipairs(svc_ids) do
    local set, peers = {}, {}
    for _, w in ipairs(serving[sid] or {}) do
      for _, other in ipairs(w.comp and svc_ids or w.services) do
        if not set[other] then
          set[other] = true
          peers[#peers + 1] = other
        end
      end
    end
    if #peers == 0 then peers = {sid} end
    table.sort(peers)
    redis.call('HSET', k('svc', sid), 'peers', table.concat(peers, ','))
  end
  return '{}'
end

-- qh_take: issues a ticket and queues it.
local function qh_take(a)
  local sid, class, channel, ref = a[1] or '', a[2] or '', a[3] or '', a[4] or ''
  if sid == '' then fail('BAD_REQUEST', 'service', 'service is required') end
  local s = service(sid)
  if not s then fail('NOT_FOUND', 'service', 'service ' .. sid .. ' does not exist') end
  if class == '' then class = 'normal' end
  if not CLASS_RANK[class] then
    fail('BAD_REQUEST', 'class', 'class must be priority, appointment or normal')
  end
  if channel == '' then channel = 'kiosk' end
  if #channel > CHANNEL_MAX or not channel:match('^[%w_%-]+$') then
    fail('BAD_REQUEST', 'channel', 'channel must be a short word of letters, digits, _ or -')
  end
  if utf8_len(ref) > REF_MAX then
    fail('BAD_REQUEST', 'ref', 'ref must be at most ' .. REF_MAX .. ' characters')
  end

  -- numbers count per prefix so services sharing a prefix never share a number
  local seq_key = k('seq', DAY, s.prefix)
  local seq = redis.call('INCR', seq_key)
  redis.call('EXPIRE', seq_key, DAY_KEY_TTL)
  local number = s.prefix .. string.format('%03d', seq)
  local id = string.gsub(DAY, '-', '') .. '-' .. number
  local t = {id = id}
  tset(t, {number = number, service = sid, class = class, channel = channel, ref = ref,
    state = 'waiting', day = DAY, issued_at = tostring(NOW), called_at = '', started_at = '',
    finished_at = '', window = '', clerk = '', recalls = '0', transfers = '0', rating = '',
    pin = '', score = new_score(), id = id})
  local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
  redis.call('EXPIRE', k('t', id), days * 86400)
  redis.call('HSET', k('num', DAY), number, id)
  redis.call('EXPIRE', k('num', DAY), DAY_KEY_TTL)
  enqueue(t)
  emit_ticket(t)
  emit_queue(sid)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_ticket: looks a ticket up by id or by today's number.
local function qh_ticket(a)
  local id, number = a[1] or '', a[2] or ''
  if id == '' and number == '' then fail('BAD_REQUEST', 'id', 'give the ticket id or number') end
  local t
  if id ~= '' then t = ticket(id) else t = find_ticket(number) end
  if not t then
    fail('NOT_FOUND', id ~= '' and 'id' or 'number', 'ticket ' .. (id ~= '' and id or number) ..
      ' does not exist')
  end
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_cancel: a waiting ticket leaves the queue.
local function qh_cancel(a)
  local id = a[1] or ''
  if id == '' then fail('BAD_REQUEST', 'id', 'id is required') end
  local t = find_ticket(id) -- an id, or today's number
  if not t then fail('NOT_FOUND', 'id', 'ticket ' .. id .. ' does not exist') end
  if t.state ~= 'waiting' then
    fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is ' .. t.state .. ', not waiting')
  end
  dequeue(t)
  settle(t, {state = 'cancelled'})
  emit_ticket(t)
  emit_queue(t.service)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_rate: records the citizen's score of a finished ticket, once.
local function qh_rate(a)
  local id = a[1] or ''
  if id == '' then fail('BAD_REQUEST', 'id', 'id is required') end
  local score = int_arg(a[2] or '', 'score', 1, 5)
  local t = find_ticket(id) -- an id, or today's number
  if not t then fail('NOT_FOUND', 'id', 'ticket ' .. id .. ' does not exist') end
  if t.state ~= 'done' then
    fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is ' .. t.state .. '; only done tickets are rated')
  end
  if t.rating ~= '' then fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is already rated') end
  tset(t, {rating = tostring(score)})
  emit_ticket(t)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_open: a clerk takes a window (closed becomes idle; a called or serving ticket stays).
local function qh_open(a)
  local w = load_window(a[1] or '')
  local clerk, holder = a[2] or '', a[3] or ''
  if clerk == '' then fail('BAD_REQUEST', 'clerk', 'clerk is required') end
  if holder == '' then fail('BAD_REQUEST', 'holder', 'holder is required') end
  local lease = int_arg(a[4] or '', 'lease_until')
  if w.holder ~= '' and w.holder ~= holder and w.clerk ~= clerk
      and (tonumber(w.lease_until) or 0) >= NOW then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' is in use by ' .. w.clerk)
  end
  local was = w.state
  local fields = {clerk = clerk, holder = holder, lease_until = tostring(lease)}
  if was == 'closed' then fields.state = 'idle' end
  wset(w, fields)
  emit_window(w)
  if was == 'closed' then emit_queues(window_affects(w)) end
  return '{"window":' .. window_json(w) .. '}'
end

-- qh_lease: renews the leases a holder has on the listed windows.
local function qh_lease(a)
  local holder = a[1] or ''
  if holder == '' then fail('BAD_REQUEST', 'holder', 'holder is required') end
  local lease = int_arg(a[2] or '', 'lease_until')
  local ids = {}
  for i = 3, #a do ids[#ids + 1] = tostring(int_arg(a[i], 'window', 1, 999999)) end
  for _, id in ipairs(ids) do
    if redis.call('HGET', k('w', id), 'holder') == holder then
      redis.call('HSET', k('w', id), 'lease_until', tostring(lease))
    end
  end
  return '{}'
end

-- qh_release: a holder gives its lease up; the window keeps state, ticket and clerk.
local function qh_release(a)
  local id = tostring(int_arg(a[1] or '', 'window', 1, 999999))
  local holder = a[2] or ''
  if holder == '' then fail('BAD_REQUEST', 'holder', 'holder is required') end
  if redis.call('HGET', k('w', id), 'holder') == holder then
    redis.call('HSET', k('w', id), 'holder', '', 'lease_until', '')
  end
  return '{}'
end

-- qh_call_next: finishes the window's ticket, then calls the next one it serves.
local function qh_call_next(a)
  local w = load_window(a[1] or '')
  local clerk = a[2] or ''
  check_window_open(w)
  local done = finish_current(w)
  if done then emit_ticket(done) end
  local t = next_for_window(w)
  if not t then
    if done or w.state ~= 'idle' then
      window_idle(w)
      emit_window(w)
    end
    if done then emit_queue(done.service) end
    return '{"ticket":null}'
  end
  call_ticket(w, t, clerk)
  if done and done.service ~= t.service then emit_queue(done.service) end
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_call: calls one waiting ticket out of order.
local function qh_call(a)
  local w = load_window(a[1] or '')
  local clerk, ref = a[2] or '', a[3] or ''
  if ref == '' then fail('BAD_REQUEST', 'ticket', 'ticket is required') end
  local t = find_ticket(ref)
  if not t then fail('NOT_FOUND', 'ticket', 'ticket ' .. ref .. ' does not exist') end
  if t.state ~= 'waiting' then
    fail('CONFLICT', 'ticket', 'ticket ' .. t.number .. ' is ' .. t.state .. ', not waiting')
  end
  if t.pin ~= '' then
    if t.pin ~= w.id then
      fail('CONFLICT', 'ticket', 'ticket ' .. t.number .. ' waits for window ' .. t.pin)
    end
  elseif not window_serves(w, t.service) then
    fail('CONFLICT', 'ticket', 'window ' .. w.id .. ' does not serve service ' .. t.service)
  end
  check_window_open(w)
  local done = finish_current(w)
  if done then emit_ticket(done) end
  call_ticket(w, t, clerk)
  if done and done.service ~= t.service then emit_queue(done.service) end
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_recall: announces the called ticket again.
local function qh_recall(a)
  local w = load_window(a[1] or '')
  local t = window_ticket(w, {called = true}, 'recall')
  tset(t, {recalls = tostring(tonumber(t.recalls) + 1)})
  emit_ticket(t)
  emit_called(t, w, t.recalls)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_start: the citizen arrived; the called ticket is now being served.
local function qh_start(a)
  local w = load_window(a[1] or '')
  local t = window_ticket(w, {called = true}, 'start')
  tset(t, {state = 'serving', started_at = tostring(NOW)})
  wset(w, {state = 'serving'})
  emit_ticket(t)
  emit_window(w)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_finish: the window's ticket is done, with an optional rating.
local function qh_finish(a)
  local w = load_window(a[1] or '')
  local rating = a[2] or ''
  if rating ~= '' then rating = tostring(int_arg(rating, 'rating', 1, 5)) end
  local t = window_ticket(w, {called = true, serving = true}, 'finish')
  local fields = {state = 'done', finished_at = tostring(NOW)}
  if rating ~= '' then fields.rating = rating end
  settle(t, fields)
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  emit_queue(t.service) -- the service time estimate moved
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_no_show: the called citizen did not come; gone, or back at the end of the queue.
local function qh_no_show(a)
  local w = load_window(a[1] or '')
  local requeue = a[2] or ''
  if requeue ~= '' and requeue ~= '0' and requeue ~= '1' then
    fail('BAD_REQUEST', 'requeue', 'requeue must be 0 or 1')
  end
  local t = window_ticket(w, {called = true}, 'mark as no-show')
  if requeue == '1' then
    -- a pinned ticket goes back to its window's queue, others to their service's
    tset(t, {state = 'waiting', called_at = '', started_at = '', window = '', clerk = '',
      score = new_score()})
    enqueue(t)
  else
    settle(t, {state = 'no_show'})
  end
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  if requeue == '1' then emit_queue(t.service) end
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_transfer: the window's ticket waits again in another service (optionally for one window),
-- keeping its issue time and its place.
local function qh_transfer(a)
  local w = load_window(a[1] or '')
  local sid, target = a[2] or '', a[3] or ''
  if sid == '' then fail('BAD_REQUEST', 'service', 'service is required') end
  if not service(sid) then fail('NOT_FOUND', 'service', 'service ' .. sid .. ' does not exist') end
  local pin = ''
  if target ~= '' then
    local tw = load_window(target)
    if not window_serves(tw, sid) then
      fail('CONFLICT', 'window', 'window ' .. tw.id .. ' does not serve service ' .. sid)
    end
    pin = tw.id
  end
  local t = window_ticket(w, {called = true, serving = true}, 'transfer')
  tset(t, {state = 'waiting', service = sid, pin = pin, called_at = '', started_at = '',
    window = '', clerk = '', transfers = tostring(tonumber(t.transfers) + 1)})
  enqueue(t) -- at its old score: the original issue keeps its place
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  emit_queue(sid)
  return '{"ticket":' .. ticket_json(t) .. '}'
end

-- qh_pause: an idle or closed window pauses, with a reason for the display.
local function qh_pause(a)
  local w = load_window(a[1] or '')
  local reason = a[2] or ''
  if #reason > REASON_MAX then
    fail('BAD_REQUEST', 'reason', 'reason must be at most ' .. REASON_MAX .. ' bytes')
  end
  if w.state == 'calling' or w.state == 'serving' then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' has a ticket ' .. w.state .. '; finish it first')
  end
  local was_open = OPEN_STATES[w.state]
  wset(w, {state = 'paused', reason = reason})
  emit_window(w)
  if was_open then emit_queues(window_affects(w)) end
  return '{"window":' .. window_json(w) .. '}'
end

-- qh_resume: a paused or closed window is idle again (the clerk at it reopens it).
local function qh_resume(a)
  local w = load_window(a[1] or '')
  if w.state ~= 'paused' and w.state ~= 'closed' then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' is ' .. w.state .. ', not paused or closed')
  end
  wset(w, {state = 'idle', reason = ''})
  emit_window(w)
  emit_queues(window_affects(w))
  return '{"window":' .. window_json(w) .. '}'
end

-- qh_close: the window shuts. The clerk's lease stays while the clerk is connected (so no
-- one else takes the window meanwhile) and ends with the connection, as for any window.
local function qh_close(a)
  local w = load_window(a[1] or '')
  if w.state == 'calling' or w.state == 'serving' then
    fail('CONFLICT', 'window', 'window ' .. w.id .. ' has a ticket ' .. w.state .. '; finish it first')
  end
  local was_open = OPEN_STATES[w.state]
  wset(w, {state = 'closed', reason = ''})
  emit_window(w)
  if was_open then emit_queues(window_affects(w)) end
  return '{"window":' .. window_json(w) .. '}'
end

-- qh_queue: waiting tickets in call order, for one window or the whole hall.
local function qh_queue(a)
  local wid, sid, lim = a[1] or '', a[2] or '', a[3] or ''
  local w
  if wid ~= '' then w = load_window(wid) end
  if sid ~= '' and not service(sid) then
    fail('NOT_FOUND', 'service', 'service ' .. sid .. ' does not exist')
  end
  local limit = QUEUE_LIMIT_DEFAULT
  if lim ~= '' then limit = math.min(int_arg(lim, 'limit', 1), QUEUE_LIMIT_MAX) end
  local bases
  if w then
    bases = {'w' .. w.id}
    if sid == '' then
      bases = window_bases(w)
    elseif window_serves(w, sid) then
      bases[2] = sid
    end
  else
    bases = {sid ~= '' and sid or '*'}
    for _, pw in ipairs(redis.call('SMEMBERS', k('pinwins'))) do bases[#bases + 1] = 'w' .. pw end
  end
  local out = {}
  for _, class in ipairs(CLASSES) do
    if #out >= limit then break end
    local cand = {}
    for _, b in ipairs(bases) do
      -- pinned queues mix services: read them whole when filtering by service
      local stop = (sid ~= '' and b:sub(1, 1) == 'w') and -1 or limit - 1
      local r = redis.call('ZRANGE', k('wq', b, class), 0, stop, 'WITHSCORES')
      for i = 1, #r, 2 do cand[#cand + 1] = {id = r[i], score = tonumber(r[i + 1])} end
    end
    table.sort(cand, function(x, y) return x.score < y.score end)
    for _, c in ipairs(cand) do
      if #out >= limit then break end
      local t = ticket(c.id)
      if t and (sid == '' or t.service == sid) then out[#out + 1] = ticket_json(t) end
    end
  end
  return '{"tickets":' .. jarr(out) .. '}'
end

-- qh_services: every service with live waiting and ewt.
local function qh_services()
  return '{"services":' .. services_json() .. '}'
end

-- qh_snapshot: what a display needs after (re)connecting.
local function qh_snapshot()
  local wins = {}
  for _, id in ipairs(redis.call('LRANGE', k('wins'), 0, -1)) do
    local w = window(id)
    if w then wins[#wins + 1] = window_json(w) end
  end
  local recent = redis.call('LRANGE', k('recent'), 0, RECENT_CALLS - 1)
  return '{"services":' .. services_json() .. ',"windows":' .. jarr(wins) ..
    ',"recent":' .. jarr(recent) .. '}'
end

-- qh_day: only the day change (run by the wrapper), reporting how many tickets expired.
local function qh_day()
  return '{"expired":' .. jint(EXPIRED) .. '}'
end

------------------------------------------------------------------------------------------
-- Registration

-- Registers a function: reads the common arguments, checks the deadline and runs the day
-- change for writing functions, and turns fail() into an error reply.
local function register(name, body, writes)
  local function run(keys, args)
    P = keys[1]
    if P == nil or P == '' then fail('BAD_REQUEST', '-', 'the site key prefix is missing') end
    NOW = int_arg(args[1] or '', 'now', 0)
    local day = args[2] or ''
    if not day:match('^%d%d%d%d%-%d%d%-%d%d$') then
      fail('BAD_REQUEST', 'day', 'day must be YYYY-MM-DD')
    end
    DAY = day
    EXPIRED = 0
    if writes then
      check_deadline(args[3])
      EXPIRED = change_day(day)
    else
      local stored = redis.call('GET', k('day'))
      if stored and stored > day then DAY = stored end
    end
    local a = {}
    for i = 4, #args do a[#a + 1] = args[i] end
    return body(a)
  end
  redis.register_function{
    function_name = name,
    callback = function(keys, args)
      cache = {}
      local ok, res = pcall(run, keys, args)
      if ok then return res end
      if type(res) == 'table' and res.qh_err then return redis.error_reply(res.qh_err) end
      error(res, 0)
    end,
    flags = writes and {} or {'no-writes'},
  }
end

register('qh_setup', qh_setup, true)
register('qh_take', qh_take, true)
register('qh_ticket', qh_ticket, false)
register('qh_cancel', qh_cancel, true)
register('qh_rate', qh_rate, true)
register('qh_open', qh_open, true)
register('qh_lease', qh_lease, true)
register('qh_release', qh_release, true)
register('qh_call_next', qh_call_next, true)
register('qh_call', qh_call, true)
register('qh_recall', qh_recall, true)
register('qh_start', qh_start, true)
register('qh_finish', qh_finish, true)
register('qh_no_show', qh_no_show, true)
register('qh_transfer', qh_transfer, true)
register('qh_pause', qh_pause, true)
register('qh_resume', qh_resume, true)
register('qh_close', qh_close, true)
register('qh_queue', qh_queue, false)
register('qh_services', qh_services, false)
register('qh_snapshot', qh_snapshot, false)
register('qh_day', qh_day, true)
