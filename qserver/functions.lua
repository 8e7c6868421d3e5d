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
--  * functions write and qserver talks (DESIGN decision 13): tickets and windows leave as
--    compact arrays of strings, in results and in the one audit entry per call, and qserver's
--    eventbuild.c makes the protocol's objects; what is still JSON (services, snapshot,
--    stats) is built by hand so keys keep their order, empty arrays are [] and integers never
--    come out in exponent form;
--  * nothing grows with the hall in one call: setup is linear, the day change runs in slices,
--    and per-service counts are kept by the writes instead of recounted.

local CLASSES = {'priority', 'appointment', 'normal'}
local CLASS_RANK = {priority = 1, appointment = 2, normal = 3}
local OPEN_STATES = {idle = true, calling = true, serving = true}
local DAY_KEY_TTL = 3 * 86400 -- numbering keys outlive their day by two days
local DEFAULT_RETENTION_DAYS = 90
local DEFAULT_SERVICE_TIME = 300
-- Service times are learnt as a running mean whose step is 1 / (samples + LEARN_PRIOR) until
-- it reaches LEARN_MIN_STEP (the configured time counts as LEARN_PRIOR samples; later the mean
-- keeps a memory of some 1 / LEARN_MIN_STEP tickets). Each sample is first clamped to at most
-- LEARN_MAX_RATIO times the mean, and to what moves the mean by at most LEARN_MAX_MOVE, so no
-- single outlier (a ticket left open for hours, a click straight through) moves it by 10%.
-- The range [ewt_low, ewt_high] is the 10th and 90th percentiles of the modelled wait (RANGE_Z_*:
-- the standard normal's quantiles). CLASS_SHARES is the field of P:ewma with the learnt shares
-- of priority and appointment tickets among the finished ones. In a hall with a comprehensive
-- window and more than PER_SERVICE_MAX services, the tickets ahead of a ticket count at the
-- hall's mix rather than service by service. (One table, as a Lua chunk has at most 200 locals.)
local EST = {LEARN_PRIOR = 12, LEARN_MIN_STEP = 0.02, LEARN_MAX_RATIO = 4, LEARN_MAX_MOVE = 0.06,
  RANGE_Z_LOW = -1.2816, RANGE_Z_HIGH = 1.2816, CLASS_SHARES = '~classes', PER_SERVICE_MAX = 12}
-- The wait model's functions (docs/estimated-wait.md), in one table for the same reason.
local model = {}
-- The ratings' functions (section "Ratings" near the end), in one table for the same reason.
local ratings = {}
-- Tickets a day change expires per call: keeps every call short however full the hall was.
local DAY_SLICE = 100
-- The appointments' functions and constants (section "Appointments" below), one table for
-- the locals' limit, declared here for the day change.
local appt = {}
local RECENT_CALLS = 10
-- Texts made once rather than in every call (each number joined into a string or handed to
-- Redis is formatted by sprintf): P:recent's last index, the statistics' field suffixes (filled
-- in their section, with the value that keeps a statistics hash a table) and NOW's text
-- (TEXT.now). One table, as a Lua chunk has at most 200 locals.
local TEXT = {RECENT_LAST = '' .. (RECENT_CALLS - 1)}
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
local DRAIN     -- while a day change is under way: the queue score below which every waiting
                -- ticket is of an earlier day and waits to be expired (nil otherwise)
local SLICED    -- this call already ran a slice of the day change
local cache     -- config and services read during this call (nothing this call writes but ewma,
                -- which is kept in step)
local counts    -- queue and window counts read during this call; cleared by every queue or
                -- window write
local gen       -- bumped by every write of a ticket, queue or window: ticket JSON built at
                -- the same gen is still true
local tjson     -- the last ticket view worked out: {t = ticket, gen = gen, view = {state, ahead,
                -- ewt...}, values = its short form, line and compact = that in the text form
                -- and as JSON, each once made}
local events    -- the events this call caused, in order (published when it ends)
local hours_seen -- site-local hours worked out during this call (statistics)
local stats_pending -- statistics this call moved, written at its end (stat_flush): the hash
                -- keys in order, and by key {records, delta, records, delta, ...}: the lists
                -- themselves, read only when the call ends, so none may change once passed
local notify = {} -- "your turn is near" notifications: the functions of their section near the end

------------------------------------------------------------------------------------------
-- Small helpers

-- Refuses the request; the wrapper turns this into "<CODE> <field> <message>".
local function fail(code, field, message)
  error({qh_err = code .. ' ' .. (field or '-') .. ' ' .. message}, 0)
end

-- Builds a key under the site prefix: k('t', id) is "<prefix>:t:<id>" (up to four parts
-- joined without a table: every call builds keys, and each allocation costs garbage collection).
local function k(a, b, c, d, ...)
  if b == nil then return P .. ':' .. a end
  if c == nil then return P .. ':' .. a .. ':' .. b end
  if d == nil then return P .. ':' .. a .. ':' .. b .. ':' .. c end
  if select('#', ...) == 0 then return P .. ':' .. a .. ':' .. b .. ':' .. c .. ':' .. d end
  return P .. ':' .. table.concat({a, b, c, d, ...}, ':')
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
-- A whole number (most are) takes '%d', which skips the C library's slow exact formatting of
-- doubles that '%.0f' needs (a queue score costs it some thousands of instructions); zero
-- keeps '%.0f' for its sign.
local function istr(n)
  if n % 1 == 0 and n ~= 0 and n > -9e15 and n < 9e15 then return string.format('%d', n) end
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
  if type(s) ~= 'string' or not string.find(s, '^%-?%d+$') or #s > 15 then
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

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The date "YYYY-MM-DD" of a day number (the inverse of days_from_civil).
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
    math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02d', y, m, d)
end

-- The day number of a well-formed date "YYYY-MM-DD".
local function date_number(s)
  local y, m, d = string.match(s, '^(%d+)%-(%d+)%-(%d+)$')
  return days_from_civil(tonumber(y), tonumber(m), tonumber(d))
end

-- The value of key in tbl, computed and kept there the first time.
local function memo(tbl, key, compute)
  local v = tbl[key]
  if v == nil then
    v = compute()
    tbl[key] = v
  end
  return v
end

-- The table named `name` inside a memo table (cache or counts), made the first time: memos
-- keyed by a plain id, so a lookup builds no string and no closure. (Also the tables of texts
-- kept across calls, inside the library's own tables.)
local function memo_table(tbl, name)
  local m = tbl[name]
  if not m then
    m = {}
    tbl[name] = m
  end
  return m
end

-- How many entries a table kept across calls (memo_store) holds before it starts afresh.
local MEMO_ENTRIES_MAX = 4096
-- The entries of each table kept by memo_store, by the table.
local memo_sizes = {}

-- Stores value under key in the table kept across calls as tbl[name] (memo_table), started
-- afresh once it holds MEMO_ENTRIES_MAX entries: its entries can be made again, and a library
-- lives until the next FUNCTION LOAD, through any number of halls, configs and values.
local function memo_store(tbl, name, key, value)
  local m = memo_table(tbl, name)
  local n = memo_sizes[m] or 0
  if n >= MEMO_ENTRIES_MAX then
    memo_sizes[m] = nil
    m, n = {}, 0
    tbl[name] = m
  end
  m[key] = value
  memo_sizes[m] = n + 1
end

-- A config value read once per call.
local function cached(key, compute)
  return memo(cache, key, compute)
end

-- NOW as the text stored in tickets and windows, made once per call.
function TEXT.now()
  local s = cache.now_text
  if not s then
    s = tostring(NOW)
    cache.now_text = s
  end
  return s
end

-- Notes a write of a queue or window: counts read so far are stale.
local function changed()
  counts = {}
  gen = gen + 1
end

------------------------------------------------------------------------------------------
-- Site, services and windows

-- The reads of the site's settings and services that every call shares, and the ids of
-- today's numbers (one table, as a Lua chunk has at most 200 locals).
local sitecfg = {}

-- The fields of P:cfg that cfg() reads (a field qh_setup adds that calls read must be named
-- here too): the site settings calls use, and `svcs`, the service ids of a hall of at most
-- PER_SERVICE_MAX services. P:cfg also holds `site` (read by nobody), `close` (read by the
-- day change alone, closing_time) and `svc:<id>` per service, read only for the services a
-- call asks about: every field read costs each call.
sitecfg.CFG_FIELDS = {'sla', 'retention_days', 'comprehensive', 'nsvcs', 'svcs'}

-- A service as its P:cfg field holds it ("<service_time> <prefix>"), or false.
function sitecfg.service_entry(v)
  -- kept by its text across calls (callers only read it): a take reads its service's
  local known = memo_table(sitecfg, 'entries')
  local s = v and known[v]
  if s ~= nil then return s end
  local st, prefix = string.match(v or '', '^(%d+) (%w+)$')
  s = st and {service_time = st, prefix = prefix} or false
  if v then memo_store(sitecfg, 'entries', v, s) end
  return s
end

-- Reads the site settings, and the service sid's entry with them when given (a take's
-- service): one HMGET however much of the config a call needs.
function sitecfg.load_cfg(sid)
  local fields = sitecfg.CFG_FIELDS
  local n = #fields
  local vals
  if sid then
    -- the shared field list is put back before an error (P:cfg of another type) is raised:
    -- it outlives the call
    fields[n + 1] = 'svc:' .. sid
    vals = redis.pcall('HMGET', k('cfg'), unpack(fields))
    fields[n + 1] = nil
    if vals.err then error(vals, 0) end
  else
    vals = redis.call('HMGET', k('cfg'), unpack(fields))
  end
  local c = {}
  for i = 1, n do c[fields[i]] = vals[i] or nil end
  cache.cfg = c
  if sid and vals[n + 1] then memo_table(cache, 'svc')[sid] = sitecfg.service_entry(vals[n + 1]) end
  return c
end

-- The site settings stored by qh_setup.
local function cfg()
  return cache.cfg or sitecfg.load_cfg()
end

-- True when the hall has a comprehensive window: then every service competes with every other.
-- (Asked many times a call: worked out once.)
local function hall_is_comprehensive()
  local comp = cache.comp
  if comp == nil then
    comp = tonumber(cfg().comprehensive or '0') > 0
    cache.comp = comp
  end
  return comp
end

-- The service ids in config order: from P:cfg in a hall of few services, else their list.
local function service_ids()
  local ids = cache.svcs
  if not ids then
    local few = cfg().svcs
    -- a JSON array: decoded faster than a list is split, and once for as long as the text
    -- stays the same (the list is only read, never changed, by the calls that get it)
    if few then
      if few ~= sitecfg.svcs_text then sitecfg.svcs_text, sitecfg.svcs_list = few, cjson.decode(few) end
      ids = sitecfg.svcs_list
    else
      ids = redis.call('LRANGE', k('svcs'), 0, -1)
    end
    cache.svcs = ids
  end
  return ids
end

-- How many services the hall has (P:cfg's nsvcs, stored by qh_setup), without reading their
-- list: a hall of many services estimates at the hall's mix. (Worked out once a call.)
local function service_count()
  local n = cache.nsvcs
  if not n then
    n = tonumber(cfg().nsvcs or '') or #service_ids()
    cache.nsvcs = n
  end
  return n
end

-- A configured service ({prefix, service_time}), or nil: its field of P:cfg, read with the
-- settings when they are not read yet (P:svc, which has the names too, is read only in a
-- Redis that qh_setup has not yet given the field).
local function service(id)
  if id == nil or id == '' then return nil end
  local known = memo_table(cache, 'svc')
  local s = known[id]
  if s == nil then
    if not cache.cfg then sitecfg.load_cfg(id) end
    s = known[id]
    if s == nil then
      s = sitecfg.service_entry(redis.call('HGET', k('cfg'), 'svc:' .. id))
      if not s then s = hgetall(k('svc', id)) or false end
      known[id] = s
    end
  end
  return s or nil
end

-- True when the service is in the config: known when this call read it already, found in the
-- list of a hall of few services (which its estimates read anyway), else as service() finds it.
function sitecfg.configured(sid)
  local read = cache.svc and cache.svc[sid]
  if read ~= nil then return read ~= false end
  if not cfg().svcs then return service(sid) ~= nil end
  for _, id in ipairs(service_ids()) do
    if id == sid then return true end
  end
  return false
end

-- Per-service figures that the writes keep up to date, one hash each (docs/keys.md):
-- P:waiting (today's waiting tickets in the service's own queues), P:nopen (open specialised
-- windows serving it; field * the open comprehensive windows), P:ewma (learnt service time),
-- P:peers (the services competing with it), P:svcjson (the start of its Service object);
-- P:nopen also counts the idle windows, in fields i:<service> and i:*.
-- One service's figure is an HGET; `bulk` holds every service's, read with one HGETALL each.

-- The figures no queue or window write changes: read once per call.
local STEADY_FIGURES = {ewma = true, peers = true, svcjson = true}

-- One service's figure from a figures hash (nil when absent).
local function figure(hash, sid, bulk)
  if bulk then return bulk[hash][sid] end
  local m = memo_table(STEADY_FIGURES[hash] and cache or counts, hash)
  local v = m[sid]
  if v == nil then
    v = redis.call('HGET', k(hash), sid) or false
    m[sid] = v
  end
  return v or nil
end

-- Reads the learnt times (P:ewma) of the fields not read yet in this call with one HMGET,
-- so the figures an estimate or a finish needs cost one command instead of one each.
function model.prefetch_ewma(fields)
  local m, want, n = memo_table(cache, 'ewma'), {}, 0
  for i = 1, #fields do
    local f = fields[i]
    if m[f] == nil then
      n = n + 1
      want[n] = f
    end
  end
  if n == 0 then return end
  local vals = redis.call('HMGET', k('ewma'), unpack(want))
  for i = 1, n do m[want[i]] = vals[i] or false end
end

-- Every service's figures at once, for answers and events about all services.
-- Each hash is read at its first use, so one nothing asks for costs nothing (the service
-- list reads no svcjson, a hall with a comprehensive window no peers).
local function bulk_figures()
  return setmetatable({}, {__index = function(b, h)
    local v = hgetall(k(h)) or {}
    b[h] = v
    return v
  end})
end

-- A learnt service time as stored in P:ewma, "mean variance samples" (an earlier version
-- stored the mean alone): its mean, variance and sample count, or nil.
function model.parse_learnt(v)
  if not v or v == '' then return nil end
  local mean, var, n = string.match(v, '^(%S+) (%S+) (%S+)$')
  mean = tonumber(mean or v)
  if not mean then return nil end
  -- at least a second (tickets clicked straight through), so the model never divides by 0
  mean = math.max(mean, 1)
  -- without a learnt variance, that of an exponential distribution
  return mean, math.max(tonumber(var or '') or mean * mean, 0), tonumber(n or '') or 0
end

-- The learnt service time of a service (field * of P:ewma: of the whole hall) in seconds and
-- its variance (T of docs/estimated-wait.md), seeded with the configured time.
function model.service_time_var(id, bulk)
  local t, var = model.parse_learnt(figure('ewma', id, bulk))
  if not t then
    local s = service(id)
    t = s and tonumber(s.service_time) or DEFAULT_SERVICE_TIME
    var = t * t
  end
  return t, var
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
  -- the id as written ("7"), not made again from the number (sprintf) unless it had a sign or
  -- leading zeros
  local w = window(string.match(arg, '^[1-9]%d*$') and arg or tostring(n))
  if not w then fail('NOT_FOUND', field, 'window ' .. n .. ' does not exist') end
  return w
end

-- The service ids a specialised window serves (empty for a comprehensive one).
local function window_services(w)
  if w.comp == '1' then return {} end
  return cjson.decode(w.services)
end

-- True when the window may call tickets of the service (comprehensive windows are not in
-- the service's P:svcwin set, so that setup stays linear).
local function window_serves(w, sid)
  if w.comp == '1' then return true end
  return redis.call('SISMEMBER', k('svcwin', sid), w.id) == 1
end

-- The services whose estimates change when the window opens or shuts.
local function window_affects(w)
  if w.comp == '1' then return service_ids() end
  return window_services(w)
end

-- Sets window fields, keeping the set of open windows and the open windows counted per
-- service (P:nopen) in step with its state.
local function wset(w, fields)
  if fields.state and fields.state ~= w.state then
    fields.since = TEXT.now()
    local now_open, now_idle = OPEN_STATES[fields.state] == true, fields.state == 'idle'
    -- the open and the idle windows per service (P:nopen, its idle ones under i:) for the
    -- estimates, written only where the state moved them; qh_setup counts them afresh from
    -- the sets P:open and P:idle, which it fills from the windows' states itself
    for hash, now in pairs({nopen = now_open, nidle = now_idle}) do
      local was = (hash == 'nopen' and OPEN_STATES[w.state] == true) or (hash == 'nidle' and w.state == 'idle')
      if now ~= was then
        local delta = now and '1' or '-1'
        local field = model.WINDOW_COUNT_FIELD[hash]
        if w.comp == '1' then
          redis.call('HINCRBY', k('nopen'), field .. '*', delta)
        else
          for _, sid in ipairs(window_services(w)) do redis.call('HINCRBY', k('nopen'), field .. sid, delta) end
        end
      end
    end
  end
  hset(k('w', w.id), w, fields)
  changed()
end

------------------------------------------------------------------------------------------
-- Tickets and queues

-- What a ticket's hash leaves out until it is set: a new ticket stores only what it has.
-- (qh_take builds its new ticket with these in one table: keep the two in step.)
local TICKET_DEFAULTS = {ref = '', called_at = '', started_at = '', finished_at = '', window = '',
  clerk = '', recalls = '0', transfers = '0', rating = '', pin = '', wait_from = ''}

-- Fills the fields a ticket's hash leaves out (the id is its key's). Its number and day are
-- parts of the id ("20261128-A012": A012, 2026-11-28), and class and channel are left out
-- when normal and kiosk: they never change after the take, so leaving them out is exact
-- (hashes of earlier versions hold them, and keep them).
local function ticket_defaults(t, id)
  t.id = id
  for f, v in pairs(TICKET_DEFAULTS) do
    if t[f] == nil then t[f] = v end
  end
  if not t.number or not t.day then
    local number, day = sitecfg.id_parts(id)
    t.number, t.day = t.number or number, t.day or day
  end
  t.class = t.class or 'normal'
  t.channel = t.channel or 'kiosk'
  return t
end

-- A ticket hash with its fields as strings ("" for none), or nil.
local function ticket(id)
  if id == nil or id == '' then return nil end
  -- a ticket that has not reached a final state has its own hash; a settled one is packed
  local t = hgetall(k('t', id)) or sitecfg.packed.read(id)
  return t and ticket_defaults(t, id)
end

-- The number and the day a ticket's id is made of ("20261128-A012": "A012", "2026-11-28"),
-- or nil for an id of another form.
function sitecfg.id_parts(id)
  if string.sub(id, 9, 9) ~= '-' then return nil, nil end
  return string.sub(id, 10), string.sub(id, 1, 4) .. '-' .. string.sub(id, 5, 6) .. '-' .. string.sub(id, 7, 8)
end

-- The id of today's ticket of a number ("A012" -> "20261128-A012"); an id stays as it is.
function sitecfg.ticket_id(ref)
  if string.find(ref, '-', 1, true) then return ref end
  -- the day without its dashes, made once a day
  if sitecfg.day_of_id ~= DAY then sitecfg.day_of_id, sitecfg.id_day = DAY, string.gsub(DAY, '-', '') end
  return sitecfg.id_day .. '-' .. ref
end

-- Finds a ticket by id ("20261128-A012") or by today's number ("A012").
local function find_ticket(ref)
  return ticket(sitecfg.ticket_id(ref))
end

-- Sets ticket fields. t is the ticket as ticket() read it (its defaults filled in), so a field
-- that already holds the value is not written again: fewer bytes in the AOF. (A new ticket's
-- hash leaves out what ticket_defaults fills in: qh_take writes it.) A packed ticket (settled)
-- has its packed value written again.
local function tset(t, fields)
  local stored, any = {}, false
  for f, v in pairs(fields) do
    if t[f] ~= v then
      stored[f] = v
      any = true
    end
    t[f] = v
  end
  if any then
    if t.packed then sitecfg.packed.write(t) else hset(k('t', t.id), t, stored) end
  end
  gen = gen + 1
end

-- The zsets ("bases" <prefix>:wq:<base>:<class>) a waiting ticket sits in: one pinned
-- window's queue, or its service's queue plus the hall-wide one.
local function ticket_bases(t)
  if t.pin ~= nil and t.pin ~= '' then return {'w' .. t.pin} end
  return {t.service, '*'}
end

-- Puts a ticket into its queues at its score, counted in its service's waiting.
local function enqueue(t)
  local bases = ticket_bases(t)
  for i = 1, #bases do
    redis.call('ZADD', k('wq', bases[i], t.class), t.score, t.id)
  end
  if t.pin ~= nil and t.pin ~= '' then
    -- remembered so the day change and the hall queue find pinned queues without scanning
    redis.call('SADD', k('pinwins'), t.pin)
  else
    redis.call('HINCRBY', k('waiting'), t.service, '1') -- text: a number is formatted by Redis
  end
  changed()
end

-- A new queue score at NOW: later arrivals sort after earlier ones, ties by take order.
-- While a day change is under way it is never below the cutoff, so the earlier day's
-- tickets stay exactly the ones under it (even with a lagging clock).
local function new_score()
  local seq = redis.call('INCR', k('take_seq'))
  local base = NOW * SCORE_SCALE
  if DRAIN and base < DRAIN then base = DRAIN end
  return istr(base + seq % SCORE_SCALE)
end

-- True for a waiting ticket of an earlier day that the day change under way has not
-- expired yet: it is expired for every purpose but the bookkeeping.
local function stale(t)
  return DRAIN ~= nil and t.state == 'waiting' and (tonumber(t.score) or 0) < DRAIN
end

-- The first `count` members (all with count -1) of a queue in score order, with scores,
-- leaving out an earlier day's tickets while a day change is under way.
local function queue_head(key, count)
  if DRAIN then
    if count < 0 then return redis.call('ZRANGE', key, istr(DRAIN), '+inf', 'BYSCORE', 'WITHSCORES') end
    return redis.call('ZRANGE', key, istr(DRAIN), '+inf', 'BYSCORE', 'LIMIT', 0, count, 'WITHSCORES')
  end
  -- the common bounds as text: a number given to Redis is formatted with sprintf each time
  local last = count < 0 and '-1' or (count == 1 and '0' or count - 1)
  return redis.call('ZRANGE', key, '0', last, 'WITHSCORES')
end

-- Takes a ticket out of its queues and its service's waiting count (an earlier day's ticket
-- left its count when the day changed).
local function dequeue(t)
  for _, b in ipairs(ticket_bases(t)) do
    redis.call('ZREM', k('wq', b, t.class), t.id)
  end
  if (t.pin == nil or t.pin == '') and not stale(t) then
    redis.call('HINCRBY', k('waiting'), t.service, '-1')
  end
  changed()
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

-- The queue bases of every service in a hall with a comprehensive window (service_bases).
model.HALL_BASES = {'*'}

-- The queue bases that compete with a service for its windows (docs/estimated-wait.md); the
-- hall's one list is shared, so callers only read what they get.
local function service_bases(sid, bulk)
  if hall_is_comprehensive() then return model.HALL_BASES end
  local peers = figure('peers', sid, bulk)
  if peers and peers ~= '' then return split(peers) end
  return {sid}
end

-- Today's tickets in a queue (ZCARD, or ZCOUNT above the cutoff during a day change),
-- counted once per call.
local function zcard(key)
  local m = memo_table(counts, 'zcard')
  local n = m[key]
  if n == nil then
    if DRAIN then n = redis.call('ZCOUNT', key, istr(DRAIN), '+inf') else n = redis.call('ZCARD', key) end
    m[key] = n
  end
  return n
end

-- Tickets in the bases called before a ticket of the class at the score
-- (score nil: a new ticket at the back of its class).
local function count_ahead(bases, class, score)
  local rank = CLASS_RANK[class]
  local n = 0
  for i = 1, #bases do
    local b = bases[i]
    for r = 1, rank - 1 do n = n + zcard(k('wq', b, CLASSES[r])) end
    if score then
      n = n + redis.call('ZCOUNT', k('wq', b, class), DRAIN and istr(DRAIN) or '-inf', '(' .. score)
    else
      n = n + zcard(k('wq', b, class))
    end
  end
  return n
end

-- The field prefix in P:nopen of each per-service window count: the open windows (nopen)
-- under the service id, the idle ones (nidle) under i:<service id>, so an estimate reads both
-- with one HMGET.
model.WINDOW_COUNT_FIELD = {nopen = '', nidle = 'i:'}

-- Windows that serve the service as a per-service window count (nopen, nidle) counts them:
-- its specialised ones plus the comprehensive ones (field *).
function model.windows_serving(hash, sid, bulk)
  local mine, comp
  local field = model.WINDOW_COUNT_FIELD[hash]
  if bulk then
    mine, comp = bulk.nopen[field .. sid], bulk.nopen[field .. '*']
  else
    local r = model.window_counts(sid)
    if field == '' then mine, comp = r[1], r[2] else mine, comp = r[3], r[4] end
  end
  return (tonumber(mine or '') or 0) + (tonumber(comp or '') or 0)
end

-- The window counts of a service as P:nopen holds them (false for none): its open windows,
-- the open comprehensive ones, its idle ones and the idle comprehensive ones; one HMGET, read
-- once per write of the call.
function model.window_counts(sid)
  local m = memo_table(counts, 'nwin')
  local r = m[sid]
  if not r then
    r = redis.call('HMGET', k('nopen'), sid, '*', 'i:' .. sid, 'i:*')
    m[sid] = r
  end
  return r
end

-- The sum of two counts as P:nopen holds them (integers, or false for none), as text.
function model.count_text(a, b)
  if not a or a == '0' then return b or '0' end
  if not b or b == '0' then return a end
  return tostring(tonumber(a) + tonumber(b))
end

-- Open windows (idle, calling, serving) that serve the service, at least 1.
local function open_windows(sid, bulk)
  return math.max(model.windows_serving('nopen', sid, bulk), 1)
end

-- Idle windows that serve the service: a ticket with fewer tickets ahead is called at once.
function model.idle_windows(sid, bulk)
  return model.windows_serving('nidle', sid, bulk)
end

-- The mean and variance of the service that frees the next window: in a hall with a
-- comprehensive window the hall's mix of services (learnt over every finished ticket),
-- otherwise the service's own.
function model.stage_time(sid, bulk)
  if not hall_is_comprehensive() then return model.service_time_var(sid, bulk) end
  local t, var = model.parse_learnt(figure('ewma', '*', bulk))
  if t then return t, var end
  -- nothing finished yet: the services' mean time and squared coefficient of variation (their
  -- arrivals are not known; the hall's mix is learnt as tickets finish)
  if service_count() > EST.PER_SERVICE_MAX then return model.service_time_var(sid, bulk) end
  local ids = service_ids()
  local scv = 0
  t = 0
  for _, id in ipairs(ids) do
    local m, v = model.service_time_var(id, bulk)
    t, scv = t + m / #ids, scv + v / (m * m) / #ids
  end
  if t <= 0 then return model.service_time_var(sid, bulk) end
  return t, scv * t * t
end

-- The p-quantile (z: the standard normal's p-quantile) of a gamma distribution of this mean
-- and shape, by Wilson and Hilferty's cube-root normal approximation.
function model.gamma_quantile(mean, shape, z)
  local c = 1 / (9 * shape)
  local q = 1 - c + z * math.sqrt(c)
  if q <= 0 then return 0 end
  return mean * q * q * q
end

-- The share of the tickets arriving from now on that will be called before a ticket of the
-- class (the classes above it), at most one half.
function model.jump_share(class, bulk)
  local rank = CLASS_RANK[class] or CLASS_RANK.normal
  if rank == 1 then return 0 end
  local p, a = string.match(figure('ewma', EST.CLASS_SHARES, bulk) or '', '^(%S+) (%S+)')
  local share = (tonumber(p) or 0) + (rank == 3 and (tonumber(a) or 0) or 0)
  return math.min(share, 0.5)
end

-- ewt (the median), ewt_low and ewt_high (10th and 90th percentiles) of the wait of a ticket
-- with `ahead` tickets before it, whose own services' means add up to `work` seconds, at n
-- busy windows, the next of which comes free after a service of mean `stage` and variance
-- `stage_var` (docs/estimated-wait.md): a gamma distribution, the sum of ahead + 1 stages,
-- stretched by the tickets of higher classes (share `jump` of the arrivals) that will arrive
-- meanwhile and be called first (and those arriving during theirs: 1 / (1 - jump)).
function model.wait_range(ahead, work, stage, stage_var, n, jump)
  local mean = (work + stage) / n / (1 - jump)
  -- n windows' departures: the service's squared coefficient of variation at one window,
  -- tending to a Poisson process's 1 as windows are added (a superposition of n of them)
  local cv2 = math.min(math.max(stage_var / (stage * stage), 0.1), 4)
  local scv = 1 + (cv2 - 1) / n
  -- plus the error of the learnt means (squared relative error of a mean over some
  -- 1 / LEARN_MIN_STEP samples), which does not shrink with the tickets ahead
  local shape = 1 / (scv / (ahead + 1) + cv2 * EST.LEARN_MIN_STEP / (2 - EST.LEARN_MIN_STEP))
  local gq = model.gamma_quantile
  return math.floor(gq(mean, shape, 0) + 0.5), math.floor(gq(mean, shape, EST.RANGE_Z_LOW) + 0.5),
    math.floor(gq(mean, shape, EST.RANGE_Z_HIGH) + 0.5)
end

-- The services whose queues compete for a service's windows (every one in a hall with a
-- comprehensive window), each counted with its own service time.
function model.competing_services(sid, bulk)
  local bases = service_bases(sid, bulk)
  if bases[1] ~= '*' then return bases end
  -- in a hall of many services the tickets ahead count at the hall's mix instead: a call or
  -- two per service would make every take slow (and a service list tells what a take would)
  if service_count() > EST.PER_SERVICE_MAX then return {} end
  return service_ids()
end

-- The tickets waiting in the services (P:waiting) and their work, each at its own service's
-- learnt time, as {count, work}: two HMGETs (none with `bulk`).
function model.read_load(sids, bulk)
  local waiting, means = {}, {}
  if bulk then
    for i, sid in ipairs(sids) do waiting[i], means[i] = bulk.waiting[sid], bulk.ewma[sid] end
  else
    waiting = redis.call('HMGET', k('waiting'), unpack(sids))
    model.prefetch_ewma(sids)
    local learnt, known = memo_table(cache, 'ewma'), memo_table(counts, 'waiting')
    for i, sid in ipairs(sids) do
      means[i] = learnt[sid] or nil
      -- the queue event's waiting figure, read here already
      known[sid] = waiting[i] or false
    end
  end
  local count, work = 0, 0
  for i, sid in ipairs(sids) do
    local w = tonumber(waiting[i] or '') or 0
    if w > 0 then
      local mean = model.parse_learnt(means[i] or nil)
      if not mean then mean = model.service_time_var(sid, bulk) end
      count, work = count + w, work + w * mean
    end
  end
  return {count, work}
end

-- The tickets waiting in the services and their work (model.read_load), read once per write
-- of the call.
function model.waiting_load(sids, bulk)
  local load
  if bulk then
    load = model.read_load(sids, bulk)
  else
    -- gen moves with every write and every learnt time
    local m, key = memo_table(counts, 'load'), gen .. ':' .. table.concat(sids, ',')
    load = m[key]
    if not load then
      load = model.read_load(sids)
      m[key] = load
    end
  end
  return load[1], load[2]
end

-- Tickets waiting in a service today, all classes, not counting tickets pinned to a window.
local function service_waiting(sid, bulk)
  return tonumber(figure('waiting', sid, bulk) or '') or 0
end

-- The tickets ahead of a new normal ticket of the service (every waiting ticket of the
-- competing queues) and their work, each at its own service's learnt time.
function model.new_ticket_load(sid, bulk)
  local bases = service_bases(sid, bulk)
  local ahead, counted_ahead, work = 0, 0, 0
  local sids = model.competing_services(sid, bulk)
  if #sids > 0 then counted_ahead, work = model.waiting_load(sids, bulk) end
  if bases[1] == '*' then
    ahead = count_ahead(bases, 'normal', nil)
    work = work + math.max(ahead - counted_ahead, 0) * model.stage_time(sid, bulk)
  else
    ahead = counted_ahead
  end
  return ahead, work
end

-- ahead, ewt, ewt_low and ewt_high of a new normal ticket of the service (what take would
-- answer now); `load` is new_ticket_load's {ahead, work} when the caller has it.
local function service_estimate(sid, bulk, load)
  local ahead, work
  if not bulk and not load then
    model.prefetch_ewma({'*', sid, EST.CLASS_SHARES, unpack(model.competing_services(sid))})
  end
  if load then ahead, work = load[1], load[2] else ahead, work = model.new_ticket_load(sid, bulk) end
  if ahead < model.idle_windows(sid, bulk) then return ahead, 0, 0, 0 end
  local stage, stage_var = model.stage_time(sid, bulk)
  return ahead, model.wait_range(ahead, work, stage, stage_var, open_windows(sid, bulk),
    model.jump_share('normal', bulk))
end

------------------------------------------------------------------------------------------
-- JSON objects of PROTOCOL.md

-- The state a ticket shows, with ahead, ewt, ewt_low and ewt_high while it waits ('' otherwise).
-- Worked out once for the event and the result when nothing changed in between.
local function ticket_view(t)
  if tjson and tjson.t == t and tjson.gen == gen then return tjson.view end
  local view = {state = t.state, ahead = '', ewt = '', ewt_low = '', ewt_high = ''}
  if stale(t) then
    view.state = 'expired' -- its day is over; the day change under way expires it
  elseif t.state == 'waiting' and (t.pin == nil or t.pin == '') then
    -- the model's inputs, which qserver works out (model.inputs)
    view.ahead = istr(count_ahead(service_bases(t.service), t.class, t.score))
    view.ewt = model.inputs(t.service)
    view.inputs = view.ewt
  elseif t.state == 'waiting' then
    view.ahead, view.ewt = model.pinned_inputs(t)
  end
  tjson = {t = t, gen = gen, view = view}
  return view
end

-- The Window object; reason only while paused. (Written out rather than with jobj: a
-- snapshot makes one per window.)
local function window_json(w)
  local reason = w.state == 'paused' and ',"reason":' .. cjson.encode(w.reason or '') or ''
  return '{"id":' .. jint(w.id) .. ',"name":' .. cjson.encode(w.name or '') ..
    ',"name_en":' .. cjson.encode(w.name_en or '') .. ',"services":' .. w.services ..
    ',"state":' .. jstr(w.state) .. ',"ticket":' .. jstr(w.number) .. ',"clerk":' .. jstr(w.clerk) ..
    ',"since":' .. jint(w.since) .. reason .. '}'
end

-- The start of a Service object, without its live figures (stored by qh_setup in P:svcjson).
local function service_head(sid, s)
  return '{"id":' .. cjson.encode(sid) .. ',"prefix":' .. cjson.encode(s.prefix or '') ..
    ',"name":' .. cjson.encode(s.name or '') .. ',"name_en":' .. cjson.encode(s.name_en or '')
end

-- The services with window counts of their own in P:nopen (specialised windows open or idle
-- that serve them), as a set: every other service's counts are the comprehensive windows'.
local function services_with_windows(nopen)
  local with = {}
  for field in pairs(nopen) do with[string.match(field, '^i:(.*)$') or field] = true end
  return with
end

-- Every configured service with live waiting and estimates, from the figures the writes keep,
-- as the compact string "<id> <waiting> <ahead> <ewt> <ewt_low> <ewt_high>;..." in config
-- order: qserver's eventbuild.c makes the Service objects, names from its config (docs/functions.md).
local function services_compact()
  local bulk = bulk_figures()
  local ids = service_ids()
  local waiting, nopen = bulk.waiting, bulk.nopen
  -- In a hall with a comprehensive window every waiting ticket is ahead of a new one, and
  -- what a service's estimate reads of its own is its open and idle window counts and, while
  -- the hall's mix is not learnt in a hall of many services, its own service time, at which
  -- the tickets ahead are weighed too (service_estimate, model.new_ticket_load,
  -- model.stage_time): services that share them share the estimate, worked out once and kept
  -- by that time as P:ewma holds it ('' when the mix stands in for it), or by all three for a
  -- service with windows of its own. In a big hall most services share one, and each
  -- estimate is tens of thousands of Lua instructions. (The stored text, not the parsed
  -- time: a key made of the numbers would cost a parse and a string.format per service.)
  local shared = hall_is_comprehensive() and #ids > 0
  local mix_known = shared and (model.parse_learnt(bulk.ewma['*']) ~= nil or
    service_count() <= EST.PER_SERVICE_MAX)
  -- the tickets ahead and their work, the same for every service once the mix is known
  -- (until then each service's take weighs them at its own time)
  local hall_load = mix_known and {model.new_ticket_load(ids[1], bulk)} or nil
  local alone, windowed = {}, {}
  local with_windows = shared and services_with_windows(nopen)
  local items = {}
  for i, sid in ipairs(ids) do
    local key, memo = shared and (mix_known and '' or bulk.ewma[sid]), alone
    if key and with_windows[sid] then
      key, memo = (nopen[sid] or '') .. ' ' .. (nopen['i:' .. sid] or '') .. ' ' .. key, windowed
    end
    local figures = key and memo[key]
    if not figures then
      local ahead, ewt, low, high = service_estimate(sid, bulk, hall_load)
      -- '%d' as the Service object's integers always were (an estimate never reaches qserver
      -- as a fraction)
      figures = string.format('%d %d %d %d', ahead, ewt, low, high)
      -- a learnt time that does not parse leaves the service its configured time: not shared
      if key and (mix_known or model.parse_learnt(bulk.ewma[sid])) then memo[key] = figures end
    end
    items[i] = sid .. ' ' .. (waiting[sid] or '0') .. ' ' .. figures
  end
  return '"' .. table.concat(items, ';') .. '"'
end

------------------------------------------------------------------------------------------
-- Events

-- Redis's real time {seconds, microseconds}, read once per call (the deadline check and the
-- stream's trimming both need it; a call lasts far less than the precision either needs).
local function real_time()
  return cached('time', function() return redis.call('TIME') end)
end

-- The stream id below which entries are older than the retention (real time, as the ids are).
local function minid()
  return cached('minid', function()
    local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
    local now = tonumber(real_time()[1])
    return istr(math.max(now - days * 86400, 0) * 1000)
  end)
end

-- Drops the stream entries older than the retention (whole stream nodes, as MINID ~ does):
-- once a day is enough for a retention counted in days, and keeps the trimming out of the
-- AOF record of every call.
local function trim_events()
  redis.call('XTRIM', k('events'), 'MINID', '~', model.trim_bound(minid()))
end

-- A compact event (or the ticket or window of a result) in the text form (docs/functions.md
-- "Events"): its values separated by ',' and its trailing "" left out, a ',', newline or
-- backslash inside a value escaped with a backslash. Fewer bytes in the stream than JSON
-- arrays of strings, and less work for the library than encoding them.
local text_line
do
  local ESCAPES = {[','] = '\\,', ['\n'] = '\\n', ['\\'] = '\\\\'}
  -- the positions of the values of free text (a clerk's id, a pause reason); every other value
  -- is an id, a word or a number the library checked, with no ',', newline or backslash
  local FREE = {T = {13}, w = {5, 7}, W = {5}, L = {2}}

  function text_line(values)
    local n = #values
    while n > 1 and values[n] == '' do n = n - 1 end
    local free = FREE[values[1]]
    for f = 1, free and #free or 0 do
      local j = free[f]
      if j <= n and values[j] ~= '' and string.find(values[j], '[,\n\\]') then
        local copy = {unpack(values, 1, n)} -- a ticket's values also make JSON results
        copy[j] = string.gsub(values[j], '[,\n\\]', ESCAPES)
        values = copy
      end
    end
    return table.concat(values, ',', 1, n)
  end
end

-- Adds an event (its text_line) to those of this call; they are recorded and published
-- together at its end.
local function emit(line)
  events[#events + 1] = line
end

-- Records this call's events as one stream entry (one a line, in order) and publishes it with
-- its stream id: one XADD and one PUBLISH per call however many events it caused. The stream
-- is trimmed to the retention at each day change (trim_events), not by every XADD.
local function publish_events()
  if #events == 0 then return model.keep_joined(nil) end
  local payload = table.concat(events, '\n')
  events = {}
  local id = redis.call('XADD', k('events'), '*', 'data', payload)
  redis.call('PUBLISH', k('ev'), id .. ' ' .. payload)
  model.keep_joined(id)
end

-- The fields of a compact ticket: ["t", id, number, service, class, channel, state, issued_at,
-- called_at, started_at, finished_at, window, clerk, recalls, transfers, rating, ahead, ewt,
-- closed_by_day, ewt_low, ewt_high], all strings, "" for none (qserver's eventbuild.c makes
-- the Ticket object). They are written in the short form "T" (ticket_compact).
local ticket_compact
do
  -- A ticket, compact, as events and results carry it: the short form "T", which leaves out
  -- what qserver can tell (docs/functions.md), so the audit entries keep a fraction of the bytes:
  -- number "" when it is the id's part after the '-', class "" for normal, channel "" for kiosk,
  -- recalls and transfers "" for 0, the times after issue as seconds after issued_at, and no
  -- trailing "". In the text form (as_text: events, and the results of ticket functions) or as
  -- a JSON array (lists of tickets, results with more members).
  function ticket_compact(t, as_text)
    local view = ticket_view(t)
    -- the event and the result of a call carry the same ticket: made once
    if tjson.values then
      if as_text then
        tjson.line = tjson.line or text_line(tjson.values)
        return tjson.line
      end
      if not tjson.compact then
        local values = tjson.values
        -- a qserver of an earlier version reads the model's inputs in their earlier form
        if sitecfg.json_results and string.sub(values[18] or '', 1, 1) == 'n' then
          values = {unpack(values)}
          values[18] = model.old_form(values[18])
        end
        tjson.compact = cjson.encode(values)
      end
      return tjson.compact
    end
    -- the fields above in order, each the view's or the ticket's value, in one table
    -- constructor: a loop over a list of names filling the table costs several times as much
    local out = {'T', t.id or '', t.number or '', t.service or '', t.class or '', t.channel or '',
      view.state or t.state or '', t.issued_at or '', t.called_at or '', t.started_at or '',
      t.finished_at or '', t.window or '', t.clerk or '', t.recalls or '', t.transfers or '',
      t.rating or '', view.ahead or t.ahead or '', view.ewt or t.ewt or '', t.closed_by_day or '',
      view.ewt_low or t.ewt_low or '', view.ewt_high or t.ewt_high or ''}
    if out[3] == string.match(t.id, '^[^-]*%-(.*)$') then out[3] = '' end
    if out[5] == 'normal' then out[5] = '' end
    if out[6] == 'kiosk' then out[6] = '' end
    if out[14] == '0' then out[14] = '' end
    if out[15] == '0' then out[15] = '' end
    -- the issue time read as a number only when a later time is relative to it
    if out[9] ~= '' or out[10] ~= '' or out[11] ~= '' then
      local issued = tonumber(out[8])
      if issued then
        for i = 9, 11 do
          if out[i] ~= '' then out[i] = istr(tonumber(out[i]) - issued) end
        end
      end
    end
    for i = #out, 8, -1 do
      if out[i] ~= '' then break end
      out[i] = nil
    end
    tjson.values = out
    return ticket_compact(t, as_text)
  end
end

-- A ticket event.
local function emit_ticket(t)
  local line = TEXT.ticket_line(t)
  local inputs = tjson.view.inputs
  if inputs then
    -- the event names the recorded learnt times instead of repeating them (model.event_inputs):
    -- the inputs, a waiting ticket's last value, lose their joined times at the line's end
    local name, joined = model.name_joined(inputs, t.service)
    if name then line = string.sub(line, 1, #line - #joined) .. name end
  end
  emit(line)
  notify.seen('tickets', t.id, t)
  -- a queue event after it may refer to its model inputs (emit_queue)
  model.last_events, model.last_inputs = events, tjson.view.inputs
end

-- A window, compact: ["w", id, state, ticket number, clerk, since, reason]; qserver adds the
-- names and services from its config. In the text form (as_text) or as a JSON array.
local function window_compact(w, as_text)
  local values = {'w', w.id, w.state, w.number or '', w.clerk or '', w.since or '',
    w.state == 'paused' and (w.reason or '') or ''}
  return as_text and text_line(values) or cjson.encode(values)
end

-- A window event: "W" after its ticket's line, else "w" (TEXT.window_line).
local function emit_window(w)
  emit(TEXT.window_line(w))
end

-- A compact result holding a ticket (or none): qserver answers {"ticket":T} (docs/functions.md).
-- "ticket", a newline and the ticket in the text form, or "ticket" alone.
-- A caller that sends no hour with the day (a qserver of an earlier version, sharing the Redis
-- during an upgrade) gets the JSON form it reads: `["ticket",T]` or `["ticket",null]`.
local function ticket_result(t)
  if sitecfg.json_results then return '["ticket",' .. (t and ticket_compact(t) or 'null') .. ']' end
  return t and 'ticket\n' .. ticket_compact(t, true) or 'ticket'
end

-- A compact result holding a window: qserver answers {"window":W}. "window", a newline and the
-- window in the text form.
local function window_result(w)
  if sitecfg.json_results then return '["window",' .. window_compact(w) .. ']' end
  return 'window\n' .. window_compact(w, true)
end

-- A queue event for one service (skipped for a service no longer configured).
local function emit_queue(sid, bulk)
  if bulk then
    if not bulk.svcjson[sid] then return end
  elseif not sitecfg.configured(sid) then
    return
  end
  notify.seen('services', sid, sid)
  if not bulk then return model.emit_queue_inputs(sid) end
  -- compact: ["q", service, waiting, ewt, ahead, ewt_low, ewt_high]
  local ahead, ewt, low, high = service_estimate(sid, bulk)
  emit(text_line({'q', sid, istr(service_waiting(sid, bulk)), istr(ewt), istr(ahead), istr(low), istr(high)}))
end

-- Queue events for a list of services, each once (figures read in bulk for many).
local function emit_queues(sids)
  local seen = {}
  local bulk = #sids > 8 and bulk_figures() or nil
  for _, sid in ipairs(sids) do
    if not seen[sid] then
      seen[sid] = true
      emit_queue(sid, bulk)
    end
  end
end

-- A called event: the display announces the ticket at the window.
-- Compact: ["C", at, recall, window] (TEXT.called_line); it follows the ticket's own event in
-- the same call, whose Ticket object qserver puts in it.
local function emit_called(t, w, recall)
  emit(TEXT.called_line(t, w, recall))
  notify.seen('calls', t.id, {t, w.id})
end

------------------------------------------------------------------------------------------
-- Statistics (DESIGN decision 4; docs/statistics.md)
--
-- Every figure of a stats row is a sum (or a max) of small per-period records, so a range
-- costs reads proportional to its days (or whole months) times its keys, never its tickets.
-- A record is a set of native counters, one hash field "<record>|<counter>" each (summed
-- per call and written at its end, stat_flush; the wait maximum by compare and set), in
--   P:st:d:<day>            records t, s:<service>, h:<HH>, w:<window>, c:<clerk>
--   P:st:d:<day>:w<window>  records s:<service>, h:<HH>, c:<clerk> (the window's own tickets)
-- and the same under P:st:m:<YYYY-MM> for whole months (folded in at each day change).
-- Records written before counters were native are one field "<record>" holding the text
-- "n1,...,n13;bucket=count,..."; they are still read and folded, never written again.

local ST_ISSUED, ST_SERVED, ST_NO_SHOW, ST_CANCELLED, ST_EXPIRED = 1, 2, 3, 4, 5
local ST_WAITS, ST_WAIT_SUM, ST_WAIT_MAX, ST_WAIT_SLA = 6, 7, 8, 9
local ST_SERVICE_SUM, ST_RATINGS, ST_RATING_SUM = 10, 11, 12
local ST_CLOSED = 13 -- served tickets closed by the day change: no service time counted
local ST_R1 = 14 -- ratings of score n (1..5) count in ST_R1 + n - 1
local ST_APPT = 19 -- appointments booked, checked in, missed, cancelled: 19..22, on the slot's day
local ST_COUNTERS = 22
-- The counter field names, in the order above; histogram buckets are b<bucket>.
local ST_FIELD = {'i', 'sv', 'ns', 'cn', 'ex', 'w', 'ws', 'wm', 'wl', 'ss', 'r', 'rs', 'cd',
  'r1', 'r2', 'r3', 'r4', 'r5', 'ab', 'ac', 'am', 'ax'}
local ST_INDEX = {}
for i = 1, #ST_FIELD do ST_INDEX[ST_FIELD[i]] = i end
-- The suffix "|<counter>" of each counter's field, made once rather than in every call.
TEXT.ST_SUFFIX = {}
for i = 1, #ST_FIELD do TEXT.ST_SUFFIX[i] = '|' .. ST_FIELD[i] end
-- A field of today's statistics hashes (the hall's and each window's) whose value is longer
-- than a listpack holds (hash-max-listpack-value: 64 bytes by default, 128 in qserver's
-- Redis), so Redis keeps the hash as a hash table from its first write: every call reads and
-- writes dozens of its fields, which in a listpack costs a scan for each and a move of the
-- rest for each write. Readers skip it; the day change drops it from the day's window hashes
-- (stat_merge_hash).
local STATS_TABLE_FIELD = '~table'
TEXT.STATS_TABLE_VALUE = '--------------------------------------------------------------------------------' ..
  '-------------------------------------------------' -- 129 bytes
local STATS_MAX_DAYS = 3660 -- ten years; long ranges read whole months, so this stays cheap
local STATS_MAX_BYTES = 60000 -- rows per answer stay under the protocol's 64 KiB line

-- Lower edges of the wait histogram's buckets (seconds); the last bucket is open-ended.
-- 30 s up to 30 min keeps p50/p90 within 30 s of the truth there (docs/statistics.md).
local HIST_LO = {}
for s = 0, 1770, 30 do HIST_LO[#HIST_LO + 1] = s end
for s = 1800, 3480, 120 do HIST_LO[#HIST_LO + 1] = s end
for s = 3600, 6900, 300 do HIST_LO[#HIST_LO + 1] = s end
for s = 7200, 13500, 900 do HIST_LO[#HIST_LO + 1] = s end
HIST_LO[#HIST_LO + 1] = 14400
local HIST_LAST = #HIST_LO - 1 -- buckets are numbered 0..HIST_LAST
-- The suffix "|b<bucket>" of each bucket's field (indexed by bucket), made once.
TEXT.HIST_SUFFIX = {}
for b = 0, HIST_LAST do TEXT.HIST_SUFFIX[b] = '|b' .. b end

-- The histogram bucket (0-based) of a wait in seconds.
local function hist_bucket(w)
  if w < 1800 then return math.floor(w / 30) end
  if w < 3600 then return 60 + math.floor((w - 1800) / 120) end
  if w < 7200 then return 75 + math.floor((w - 3600) / 300) end
  if w < 14400 then return 87 + math.floor((w - 7200) / 900) end
  return HIST_LAST
end

-- The site's UTC offset in seconds at epoch t, from the transitions qh_setup stored.
local function utc_offset(t)
  local r = redis.call('ZREVRANGEBYSCORE', k('tz'), t, '-inf', 'LIMIT', 0, 1)
  if not r[1] then r = redis.call('ZRANGE', k('tz'), 0, 0) end
  if not r[1] then return 0 end -- no zone given: UTC
  return tonumber(string.match(r[1], ':(%-?%d+)$')) or 0
end

-- The site-local hour of epoch t as "00".."23" (remembered for the call: most are NOW's,
-- which qserver passes with the day, so most calls read no offsets).
local function local_hour(t)
  t = tonumber(t) or NOW
  local h = hours_seen[t]
  if not h then
    h = string.format('%02d', math.floor(((t + utc_offset(t)) % 86400) / 3600))
    hours_seen[t] = h
  end
  return h
end

-- Decodes a stored record (nil or false: an empty one).
local function rec_decode(s)
  local r = {h = {}}
  for i = 1, ST_COUNTERS do r[i] = 0 end
  if not s then return r end
  local head, hist = string.match(s, '^([^;]*);?(.*)$')
  local i = 0
  for v in string.gmatch(head, '[^,]+') do
    i = i + 1
    r[i] = tonumber(v) or 0
  end
  for b, c in string.gmatch(hist, '(%d+)=(%d+)') do r.h[tonumber(b)] = tonumber(c) end
  return r
end

-- Encodes a record for storage, histogram buckets in order and only those used.
local function rec_encode(r)
  local parts, buckets, hist = {}, {}, {}
  for i = 1, ST_COUNTERS do parts[i] = istr(r[i]) end
  for b in pairs(r.h) do buckets[#buckets + 1] = b end
  table.sort(buckets)
  for _, b in ipairs(buckets) do hist[#hist + 1] = istr(b) .. '=' .. istr(r.h[b]) end
  return table.concat(parts, ',') .. ';' .. table.concat(hist, ',')
end

-- Adds record (or delta) b into record a: counters and buckets sum, the wait maximum maxes.
local function rec_merge(a, b)
  for i = 1, ST_COUNTERS do
    if i == ST_WAIT_MAX then
      if b[i] > a[i] then a[i] = b[i] end
    else
      a[i] = a[i] + b[i]
    end
  end
  for bucket, c in pairs(b.h) do a.h[bucket] = (a.h[bucket] or 0) + c end
end

-- What an event adds to a record, from the counters it sets: stat_delta{[ST_ISSUED] = 1}.
-- Kept sparse, as the field suffixes it moves and their amounts in counter order (counters
-- of 0 left out), so that adding it to each of its records builds no other string or table.
-- Waits and the wait maximum are not counters set here (wait_delta adds them).
-- A delta passed to the statistics is read-only: one may be shared across calls (TEXT.issued_delta).
local function stat_delta(set)
  local sfx, val, n = {}, {}, 0
  for i = 1, ST_COUNTERS do
    local v = set[i]
    if v and v ~= 0 and i ~= ST_WAITS and i ~= ST_WAIT_MAX then
      n = n + 1
      sfx[n], val[n] = TEXT.ST_SUFFIX[i], v
    end
  end
  return {sfx = sfx, val = val}
end

-- What one waiting spell that ended in a call adds: its sum and SLA counters, one wait in
-- its histogram bucket (the waits are the sum of the buckets) and the wait for the maximum.
local function wait_delta(wait)
  wait = math.max(wait, 0)
  local sla = tonumber(cfg().sla or '') or 900
  -- as stat_delta{[ST_WAIT_SUM] = wait, [ST_WAIT_SLA] = ...} makes it (counter order, no 0),
  -- made directly: every call to a window makes one
  local sfx, val, n = {}, {}, 0
  if wait ~= 0 then n, sfx[1], val[1] = 1, TEXT.ST_SUFFIX[ST_WAIT_SUM], wait end
  if wait <= sla then
    n = n + 1
    sfx[n], val[n] = TEXT.ST_SUFFIX[ST_WAIT_SLA], 1
  end
  sfx[n + 1], val[n + 1] = TEXT.HIST_SUFFIX[hist_bucket(wait)], 1
  return {sfx = sfx, val = val, wait = wait}
end

-- Adds a delta into the records of one aggregate hash, in this call's pending statistics,
-- which stat_flush writes at the call's end, one HMGET and one HSET per hash. Kept as the
-- list of (records, delta) pairs: most calls move a hash once or twice with distinct fields,
-- which then need no table to be summed in. The record list and the delta are kept as they
-- are, not copied, and read only when the call ends (stat_flush): a caller must never change
-- either after passing it, nor ever change a delta made once and shared by every call (it
-- would move the figures of every later call).
local function stat_update(key, recs, d, as_table)
  local h = stats_pending[key]
  if not h then
    h = {as_table = as_table}
    stats_pending[key] = h
    stats_pending[#stats_pending + 1] = key
  end
  h[#h + 1] = recs
  h[#h + 1] = d
end

-- Statistics' writing (stat_flush) and the buffers and texts it reuses from call to call.
local stat_flush
do
  -- the fields of one HMGET and the arguments of one HSET, kept from call to call: each table
  -- made and grown costs more than the figures written with it
  local names, args = {}, {}
  -- "<record>|wm" by record, made once (dropped whole when it holds many)
  local wm_field, wm_count = {}, 0
  -- the texts of 0..999, and of 000..999 for the lower digits, made at the first write
  local digits, digits3

  -- A figure as '%d' writes it: most figures are below a million, and two lookups and a join
  -- cost a fraction of string.format (a figure's dearest step); any other number is formatted.
  local function figure_text(v)
    if not digits then
      digits, digits3 = {}, {}
      for i = 0, 999 do digits[i], digits3[i] = string.format('%d', i), string.format('%03d', i) end
    end
    if v >= 0 and v < 1000000 and v % 1 == 0 then
      if v < 1000 then return digits[v] end
      local low = v % 1000
      return digits[(v - low) / 1000] .. digits3[low]
    end
    return string.format('%d', v)
  end

  -- The wait maximum's field of a record.
  local function wm_of(rec)
    local f = wm_field[rec]
    if not f then
      if wm_count >= 10000 then wm_field, wm_count = {}, 0 end
      f = rec .. '|wm'
      wm_field[rec], wm_count = f, wm_count + 1
    end
    return f
  end

  -- The fields one update (records x delta) moves, in order, from names[n + 1] on; returns
  -- the new n. Counters first, then the wait maximum, record by record.
  local function update_fields(recs, d, n)
    local suffix, wait = d.sfx, d.wait
    for r = 1, #recs do
      local rec = recs[r]
      for j = 1, #suffix do
        n = n + 1
        names[n] = rec .. suffix[j]
      end
      if wait then
        n = n + 1
        names[n] = wm_of(rec)
      end
    end
    return n
  end

  -- True when the updates of a hash move distinct fields, fewer than 200: no suffix in two of
  -- them (a field's suffix, all from its last '|', tells it from another record's), at most
  -- one with a wait. A call moves a hash once, or twice (a call_next that finishes a ticket
  -- and calls the next) with a final state's counters and a wait's.
  local function distinct(h)
    local count = 0
    for u = 2, #h, 2 do
      local d = h[u]
      count = count + #h[u - 1] * (#d.sfx + 1)
      for e = 2, u - 2, 2 do
        local other = h[e]
        if d.wait and other.wait then return false end
        for a = 1, #d.sfx do
          for b = 1, #other.sfx do
            if d.sfx[a] == other.sfx[b] then return false end
          end
        end
      end
    end
    return count < 200
  end

  -- The HSET arguments of a hash's updates (h), from args[m + 1] on, given the values stored
  -- in their fields (have: names' HMGET reply); returns the new m. Counters are the stored
  -- figure plus the delta; a wait maximum is written where the wait passes the stored one.
  -- The stored texts are converted by the arithmetic itself (a call of tonumber costs more
  -- than the rest of a field's work), which fails on a text that is no number.
  local function figure_args(h, have, m)
    local i = 0
    for u = 2, #h, 2 do
      local value, wait = h[u].val, h[u].wait
      for _ = 1, #h[u - 1] do
        for j = 1, #value do
          i = i + 1
          -- as '%d' writes it: every figure is a whole number (tostring's '%.14g' would switch
          -- to exponents from 1e14)
          args[m + 1], args[m + 2], m = names[i], figure_text((have[i] or 0) + value[j]), m + 2
        end
        if wait then
          i = i + 1
          local was = have[i]
          if not was or was + 0 < wait then args[m + 1], args[m + 2], m = names[i], figure_text(wait), m + 2 end
        end
      end
    end
    return m
  end

  -- Writes one hash whose updates move distinct fields (distinct): read with one HMGET (with
  -- STATS_TABLE_FIELD when the hash is kept as a table) and written with one HSET, in the
  -- order of the updates, as flush_merged would.
  local function flush_distinct(key, h)
    local n = 0
    for u = 1, #h, 2 do n = update_fields(h[u], h[u + 1], n) end
    if n == 0 then return end
    local marked = h.as_table
    if marked then names[n + 1] = STATS_TABLE_FIELD end
    local have = redis.call('HMGET', key, unpack(names, 1, marked and n + 1 or n))
    local m = 0
    if marked and not have[n + 1] then args[1], args[2], m = STATS_TABLE_FIELD, TEXT.STATS_TABLE_VALUE, 2 end
    local ok, top = pcall(figure_args, h, have, m)
    if not ok then
      -- a stored text that is no number (damaged by hand) counts as none, as flush_merged
      -- counts it (tonumber, which converts every other text as the arithmetic does): an
      -- error here, after the call's writes, would refuse every call moving the field all day
      for i = 1, n do have[i] = tonumber(have[i]) end
      top = figure_args(h, have, m)
    end
    if top > 0 then redis.call('HSET', key, unpack(args, 1, top)) end
  end

  -- Writes one hash moved by several updates (a day change's expiries, say): the same
  -- fields summed first, then per 200 fields (within Lua's stack) one HMGET and one HSET.
  local function flush_merged(key, h)
    local order, add, max = {}, {}, {}
    for u = 1, #h, 2 do
      local recs, d = h[u], h[u + 1]
      local suffix, value, wait = d.sfx, d.val, d.wait
      for _, rec in ipairs(recs) do
        for j = 1, #suffix do
          local f = rec .. suffix[j]
          local have = add[f]
          if have == nil then order[#order + 1] = f end
          add[f] = (have or 0) + value[j]
        end
        if wait then
          local f = wm_of(rec)
          local have = max[f]
          if have == nil then order[#order + 1] = f end
          if (have or -1) < wait then max[f] = wait end
        end
      end
    end
    for first = 1, #order, 200 do
      local fields = {}
      for i = first, math.min(first + 199, #order) do fields[#fields + 1] = order[i] end
      -- the first batch of a hash kept as a table also asks for STATS_TABLE_FIELD, written
      -- with the figures when the hash has none yet (no command more)
      local marked = h.as_table and first == 1
      if marked then fields[#fields + 1] = STATS_TABLE_FIELD end
      local have = redis.call('HMGET', key, unpack(fields))
      local out, n = {}, 0
      if marked then
        fields[#fields] = nil
        if not have[#have] then out[1], out[2], n = STATS_TABLE_FIELD, TEXT.STATS_TABLE_VALUE, 2 end
      end
      for i = 1, #fields do
        local f = fields[i]
        local v
        local top = max[f]
        if top ~= nil then
          if (tonumber(have[i]) or -1) < top then v = top end
        else
          v = (tonumber(have[i]) or 0) + add[f]
        end
        if v then
          n = n + 2
          out[n - 1], out[n] = f, figure_text(v)
        end
      end
      if n > 0 then redis.call('HSET', key, unpack(out)) end
    end
  end

  -- Writes this call's pending statistics: per hash one HMGET of the fields it moves and one
  -- HSET of their new values (the same counters as HINCRBY would leave, in a fraction of the
  -- AOF bytes and commands; the function runs atomically, so nothing comes between).
  function stat_flush()
    for _, key in ipairs(stats_pending) do
      local h = stats_pending[key]
      -- (one update, the most common, checked inline)
      if (#h == 2 and #h[1] * (#h[2].sfx + 1) < 200) or distinct(h) then
        flush_distinct(key, h)
      else
        flush_merged(key, h)
      end
    end
    stats_pending = {}
  end
end

-- Adds one stored counter ("<record>|<counter>" field's counter name and value) to record r.
local function rec_add_counter(r, name, value)
  local v = tonumber(value) or 0
  if string.sub(name, 1, 1) == 'b' then
    local b = tonumber(string.sub(name, 2))
    if b then
      r.h[b] = (r.h[b] or 0) + v
      r[ST_WAITS] = r[ST_WAITS] + v -- every wait is in one bucket
    end
    return
  end
  local i = ST_INDEX[name]
  if i == ST_WAITS then
    return -- counted from the buckets
  elseif i == ST_WAIT_MAX then
    if v > r[i] then r[i] = v end
  elseif i then
    r[i] = r[i] + v
  end
end

-- Adds a stored hash field to record r: a native counter, or a whole record in the older text.
local function rec_add_field(r, name, value)
  if name then
    rec_add_counter(r, name, value)
  else
    rec_merge(r, rec_decode(value))
  end
end

-- Splits a stats field into its record and counter name ("s:A|ws" -> "s:A", "ws"); a field
-- of the older text form is all record (counter nil).
local function stat_field(f)
  local rec, name = string.match(f, '^(.*)|([^|]*)$')
  if rec then return rec, name end
  return f, nil
end

-- Every field a record may have: the older text one, its counters and its buckets.
local function record_fields(rec)
  local out = {rec}
  for _, f in ipairs(ST_FIELD) do out[#out + 1] = rec .. '|' .. f end
  for b = 0, HIST_LAST do out[#out + 1] = rec .. '|b' .. b end
  return out
end

-- Reads one record of a hash (the older text field and the counters summed).
local function stat_read(key, rec)
  local fields = record_fields(rec)
  local vals = redis.call('HMGET', key, unpack(fields))
  local r = rec_decode(vals[1])
  for i = 2, #fields do
    if vals[i] then rec_add_counter(r, select(2, stat_field(fields[i])), vals[i]) end
  end
  return r
end

-- Counts a delta for the day and its month under total, service, hour, and (when known)
-- window and clerk, plus the window's own breakdown that a clerk may read.
local function stat_record(day, hour, sid, win, clerk, d)
  local all, own = {'t', 'h:' .. hour}, nil
  if sid ~= nil and sid ~= '' then all[#all + 1] = 's:' .. sid end
  if win ~= nil and win ~= '' then
    all[#all + 1] = 'w:' .. win
    own = {'h:' .. hour}
    if sid ~= nil and sid ~= '' then own[#own + 1] = 's:' .. sid end
  end
  if clerk ~= nil and clerk ~= '' then
    all[#all + 1] = 'c:' .. clerk
    if own then own[#own + 1] = 'c:' .. clerk end
  end
  -- today's figures reach the month when the day changes (stat_fold_day); a late one for a
  -- day already folded (a rating, an expiry) goes to both at once
  local periods = {'d:' .. day}
  if day < DAY then periods[2] = 'm:' .. string.sub(day, 1, 7) end
  for _, period in ipairs(periods) do
    stat_update(k('st', period), all, d, string.sub(period, 1, 2) == 'd:')
    -- a window's hash only while its day is today (the day change compacts it)
    if own then
      stat_update(k('st', period, 'w' .. win), own, d, day == DAY and period == periods[1])
    end
  end
end

-- Writes {field, value} pairs into a hash, each combined with the value there
-- (combine(have, value) returns what to write, or nil to leave it), 200 fields a call.
local function merge_batches(dst, pairs_, combine)
  for first = 1, #pairs_, 200 do
    local fields = {}
    for i = first, math.min(first + 199, #pairs_) do fields[#fields + 1] = pairs_[i][1] end
    local have = redis.call('HMGET', dst, unpack(fields))
    local args = {}
    for i, f in ipairs(fields) do
      local v = combine(have[i], pairs_[first + i - 1][2])
      if v then
        args[#args + 1] = f
        args[#args + 1] = v
      end
    end
    if #args > 0 then redis.call('HSET', dst, unpack(args)) end
  end
end

-- Adds every record of one hash into another: counters by HINCRBY, maxima by compare and
-- set, and records of the older text form merged as text, in batches so no call gets too
-- many arguments. With `compact`, then writes the source again without STATS_TABLE_FIELD
-- when it has it, so that Redis keeps it as a small listpack as before (a hash never goes
-- back by itself): a finished day's window hash is no longer written by every call, and
-- there is one per window and day.
local function stat_merge_hash(src, dst, compact)
  local flat = redis.call('HGETALL', src)
  local texts, maxima = {}, {}
  for i = 1, #flat, 2 do
    local f, v = flat[i], flat[i + 1]
    local _, name = stat_field(f)
    if f == STATS_TABLE_FIELD then
      -- only there to keep the day's hash a hash table
    elseif not name then
      texts[#texts + 1] = {f, v}
    elseif name == 'wm' then
      maxima[#maxima + 1] = {f, v}
    else
      redis.call('HINCRBY', dst, f, v)
    end
  end
  -- a maximum is written where the source's passes it
  merge_batches(dst, maxima, function(have, v)
    if (tonumber(have) or -1) < tonumber(v) then return v end
  end)
  merge_batches(dst, texts, function(have, v)
    local r = rec_decode(have)
    rec_merge(r, rec_decode(v))
    return rec_encode(r)
  end)
  if not compact then return end
  local args, marked = {}, false
  for i = 1, #flat, 2 do
    if flat[i] == STATS_TABLE_FIELD then
      marked = true
    else
      args[#args + 1], args[#args + 2] = flat[i], flat[i + 1]
    end
  end
  if not marked then return end
  redis.call('DEL', src)
  -- 200 fields a command at most, within Lua's stack
  for first = 1, #args, 400 do
    redis.call('HSET', src, unpack(args, first, math.min(first + 399, #args)))
  end
end

-- Folds a day's aggregates into its month's, once, when the day is over: the hot path then
-- writes one period, and long ranges still read whole months.
local function stat_fold_day(day)
  stat_flush() -- the day's hash read below holds all its figures
  local from = k('st', 'd:' .. day)
  local month = 'm:' .. string.sub(day, 1, 7)
  -- the windows with figures that day have a w:<id> record in the day's hash
  local seen = {}
  for _, f in ipairs(redis.call('HKEYS', from)) do
    local rec = stat_field(f)
    if string.sub(rec, 1, 2) == 'w:' and not seen[rec] then
      seen[rec] = true
      local w = 'w' .. string.sub(rec, 3)
      stat_merge_hash(k('st', 'd:' .. day, w), k('st', month, w), true)
    end
  end
  stat_merge_hash(from, k('st', month))
end

-- Counts a ticket's final state (the ticket already carries it) and, for done, its service
-- time and any rating given with the finish.
local function stat_final(t)
  if t.state == 'done' and t.closed_by_day == '1' then
    -- served, but how long it took is unknown: no service time
    stat_record(t.fday, t.fhour, t.service, t.window, t.clerk,
      stat_delta{[ST_SERVED] = 1, [ST_CLOSED] = 1})
  elseif t.state == 'done' then
    local took = 0
    if t.called_at ~= '' then took = math.max(tonumber(t.finished_at) - tonumber(t.called_at), 0) end
    local set = {[ST_SERVED] = 1, [ST_SERVICE_SUM] = took}
    if t.rating ~= nil and t.rating ~= '' then
      set[ST_RATINGS], set[ST_RATING_SUM] = 1, tonumber(t.rating)
      set[ST_R1 + tonumber(t.rating) - 1] = 1
    end
    stat_record(t.fday, t.fhour, t.service, t.window, t.clerk, stat_delta(set))
  elseif t.state == 'no_show' then
    stat_record(DAY, local_hour(NOW), t.service, t.window, t.clerk, stat_delta{[ST_NO_SHOW] = 1})
  elseif t.state == 'cancelled' then
    stat_record(DAY, local_hour(NOW), t.service, '', '', stat_delta{[ST_CANCELLED] = 1})
  end
  -- expired tickets are counted by the day change, in the day and hour they were issued
end

------------------------------------------------------------------------------------------
-- Transitions shared by the functions

-- Writes a learnt figure of P:ewma: added to `writes` ({field, value, ...}) for one HSET by
-- the caller, or at once without it.
function model.write_learnt(field, learnt, writes)
  if writes then
    writes[#writes + 1], writes[#writes + 2] = field, learnt
  else
    redis.call('HSET', k('ewma'), field, learnt)
  end
end

-- Feeds one service time into a learnt mean and variance (field of P:ewma), bounded so one
-- sample moves the mean by at most LEARN_MAX_MOVE (see EST); written as model.write_learnt does.
-- seed() gives the time to start from, called only when nothing is learnt yet.
function model.learn_time(field, took, seed, writes)
  local mean, var, n = model.parse_learnt(figure('ewma', field))
  if not mean then
    mean = seed()
    var, n = mean * mean, 0
  end
  local step = math.max(1 / (n + EST.LEARN_PRIOR), EST.LEARN_MIN_STEP)
  local reach = EST.LEARN_MAX_MOVE / step
  took = math.min(math.max(took, mean * (1 - reach)), mean * math.min(1 + reach, EST.LEARN_MAX_RATIO))
  local d = took - mean
  local learnt = string.format('%.3f %.1f %d', mean + step * d, (1 - step) * (var + step * d * d),
    math.min(n + 1, 1000000))
  model.write_learnt(field, learnt, writes)
  memo_table(cache, 'ewma')[field] = learnt
end

-- Feeds a finished ticket's class into the learnt shares of the classes (CLASS_SHARES): a
-- running share over the tickets so far, later over some 1 / LEARN_MIN_STEP tickets; written
-- as model.write_learnt does.
function model.learn_class_share(class, writes)
  local p, a, n = string.match(figure('ewma', EST.CLASS_SHARES) or '', '^(%S+) (%S+) (%S+)$')
  p, a, n = tonumber(p) or 0, tonumber(a) or 0, tonumber(n) or 0
  local step = math.max(1 / (n + 1), EST.LEARN_MIN_STEP)
  p = p + step * ((class == 'priority' and 1 or 0) - p)
  a = a + step * ((class == 'appointment' and 1 or 0) - a)
  local learnt = string.format('%.4f %.4f %d', p, a, math.min(n + 1, 1000000))
  model.write_learnt(EST.CLASS_SHARES, learnt, writes)
  memo_table(cache, 'ewma')[EST.CLASS_SHARES] = learnt
end

-- Feeds a finished ticket's service time (call to finish) into its service's learnt time,
-- and into the hall's (field *) when the hall has a comprehensive window.
local function learn_service_time(t)
  if t.called_at == '' or t.closed_by_day == '1' then return end
  -- a no-show held its window too, from the call until it was given up
  local took = (t.state == 'no_show' and NOW or tonumber(t.finished_at)) - tonumber(t.called_at)
  if took < 0 then return end
  -- the three learnt figures are read with one HMGET and written with one HSET; the HMGET
  -- also reads those of the competing services, which the queue event that follows every
  -- settled ticket at a window needs (model.inputs)
  local sid = t.service
  model.prefetch_ewma({'*', sid, EST.CLASS_SHARES, unpack(model.competing_services(sid))})
  -- a configured service always has a learnt time (qh_setup seeds it and drops a removed
  -- service's), so its hash is read only when the time is missing
  if not memo_table(cache, 'ewma')[sid] and not service(sid) then return end
  local writes = {}
  -- the hall's mix (field *) starts from the services' mean before any of them learnt
  if hall_is_comprehensive() then
    model.learn_time('*', took, function() return (model.stage_time(sid)) end, writes)
  end
  model.learn_time(sid, took, function()
    local s = service(sid)
    return s and tonumber(s.service_time) or DEFAULT_SERVICE_TIME
  end, writes)
  model.learn_class_share(t.class, writes)
  -- the competing set's learnt times joined again (model.inputs reads them so), written with
  -- them at the call's end (model.keep_joined: one HSET with the id of the entry that records
  -- them); with specialised windows the service's peers' sets hold its time too: dropped, and
  -- joined again by the next call that needs one
  local sids = model.competing_services(sid)
  model.joined_changed(model.set_field(sid), model.join_learnt(sids))
  model.learnt_writes = writes
  if not hall_is_comprehensive() and #sids > 1 then
    local peers, learnt = {}, memo_table(cache, 'ewma')
    for _, id in ipairs(sids) do
      if id ~= sid then
        local field = model.set_field(id)
        peers[#peers + 1], peers[#peers + 2] = field, model.ref_field(field)
        learnt[field], learnt[model.ref_field(field)] = false, false
      end
    end
    redis.call('HDEL', k('ewma'), unpack(peers))
  end
  gen = gen + 1 -- estimates use it
end

-- The one place where a ticket reaches a final state (done, no_show, cancelled, expired):
-- the per-day statistics of DESIGN decision 4 hook in here (uncounted: the caller counts it,
-- as the day change sums its expiries per slice).
local function settle(t, fields, uncounted)
  if fields.state == 'done' or fields.state == 'no_show' then
    -- a rating may come later (qh_rate); it counts where the finish (or no-show) did
    fields.fday = fields.fday or DAY
    fields.fhour = fields.fhour or local_hour(fields.finished_at)
  end
  -- the ticket leaves its own hash for its packed value in a shared one, which keeps it for
  -- the retention from its issue day's end: the raw ticket goes, its aggregates stay
  for f, v in pairs(fields) do t[f] = v end
  sitecfg.packed.settle(t)
  gen = gen + 1
  if t.state == 'done' or t.state == 'no_show' then learn_service_time(t) end
  if not uncounted then stat_final(t) end
end

-- Finishes the ticket called or serving at a window; returns it, or nil when there was none.
local function finish_current(w)
  local t = ticket(w.ticket)
  if not t or (t.state ~= 'called' and t.state ~= 'serving') then return nil end
  settle(t, {state = 'done', finished_at = TEXT.now()})
  return t
end

-- The clerk a call at the window is recorded under: the clerk signed in there (holding a live
-- lease), else the user acting (a manager acting for an empty window).
local function acting_clerk(w, user)
  if w.clerk ~= nil and w.clerk ~= '' and w.holder ~= nil and w.holder ~= ''
      and (tonumber(w.lease_until) or 0) >= NOW then
    return w.clerk
  end
  if user ~= '' then return user end
  return w.clerk or ''
end

-- Calls a waiting ticket to a window: out of its queues, onto the window, announced.
local function call_ticket(w, t, clerk)
  dequeue(t)
  -- this waiting spell began at issue, or at the last transfer or no-show requeue
  local since = tonumber(t.wait_from ~= nil and t.wait_from ~= '' and t.wait_from or t.issued_at)
  tset(t, {state = 'called', called_at = TEXT.now(), started_at = '',
    window = w.id, clerk = acting_clerk(w, clerk)})
  stat_record(DAY, local_hour(NOW), t.service, w.id, t.clerk, wait_delta(NOW - (since or NOW)))
  wset(w, {state = 'calling', ticket = t.id, number = t.number})
  -- {"number":..,"window":..,"at":..} joined at once (the window id and NOW are plain integers)
  local len = redis.call('LPUSH', k('recent'), '{"number":' .. jstr(t.number) .. ',"window":' ..
    w.id .. ',"at":' .. (NOW < 1e14 and TEXT.now() or string.format('%d', NOW)) .. '}')
  -- the list once full loses its oldest entry: RPOP, fewer AOF bytes than LTRIM
  if len == RECENT_CALLS + 1 then
    redis.call('RPOP', k('recent'))
  elseif len > RECENT_CALLS then
    redis.call('LTRIM', k('recent'), '0', TEXT.RECENT_LAST)
  end
  emit_ticket(t)
  emit_called(t, w, 0)
  emit_window(w)
  emit_queue(t.service)
end

-- The next ticket for a window: first class with anyone waiting, smallest score within it.
local function next_for_window(w)
  local bases = window_bases(w)
  -- a window no ticket was ever pinned to (not in P:pinwins) has no pinned queue to look at
  if redis.call('SISMEMBER', k('pinwins'), w.id) == 0 then table.remove(bases, 1) end
  for _, class in ipairs(CLASSES) do
    local best_id, best_score
    for _, b in ipairs(bases) do
      local r = queue_head(k('wq', b, class), 1)
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

-- The queue bases that hold every waiting ticket: the hall-wide queues (every unpinned
-- ticket) and the pinned queues of pinwins.
local function all_bases()
  local bases = {'*'}
  for _, pw in ipairs(redis.call('SMEMBERS', k('pinwins'))) do bases[#bases + 1] = 'w' .. pw end
  return bases
end

-- The site's closing time on a day (epoch seconds): its weekday's closing hour from the
-- config, or the day's end when the config has none for it.
local function closing_time(day)
  local y, m, d = string.match(day, '^(%d+)%-(%d+)%-(%d+)$')
  local n = days_from_civil(tonumber(y), tonumber(m), tonumber(d))
  local weekday = (n + 4) % 7 -- 1970-01-01 was a Thursday; 0 is Sunday
  local close = tonumber(split(redis.call('HGET', k('cfg'), 'close') or '')[weekday + 1] or '') or 1440
  if close <= 0 then close = 1440 end -- closed that weekday: the end of the day
  local t = n * 86400 + close * 60 -- as if the site were on UTC
  return t - utc_offset(t - utc_offset(t))
end

-- Day change, first part: tickets still called or serving at a window were served on the day
-- that ended; they become done at its closing time, flagged closed_by_day, their service time
-- unknown (neither learnt nor counted). Bounded by the number of windows.
local function close_day_tickets(old_day)
  local closes = closing_time(old_day)
  for _, id in ipairs(redis.call('LRANGE', k('wins'), 0, -1)) do
    local w = window(id)
    if w and (w.state == 'calling' or w.state == 'serving') then
      local t = ticket(w.ticket)
      if t and (t.state == 'called' or t.state == 'serving') then
        local at = math.max(closes, tonumber(t.started_at) or 0, tonumber(t.called_at) or 0)
        at = math.min(at, NOW)
        settle(t, {state = 'done', finished_at = istr(at), closed_by_day = '1', fday = old_day,
          fhour = local_hour(at)})
        emit_ticket(t)
      end
      window_idle(w)
      emit_window(w)
    end
  end
end

-- Earlier days' tickets still waiting (below the cutoff), in every queue that holds them.
local function day_remaining(bases)
  local n = 0
  for _, b in ipairs(bases) do
    for _, class in ipairs(CLASSES) do
      n = n + redis.call('ZCOUNT', k('wq', b, class), '-inf', '(' .. istr(DRAIN))
    end
  end
  return n
end

-- Day change, second part: expires at most DAY_SLICE waiting tickets of earlier days (those
-- below the cutoff). When none is left the change ends: the cutoff goes, emptied pinned
-- queues are forgotten and every service's estimate is sent again. Returns how many expired
-- and how many are left.
local function day_slice()
  SLICED = true
  local bases = all_bases()
  local budget, expired = DAY_SLICE, 0
  -- expiries count on their issue day and hour: summed here, written once per slice
  local counts, order = {}, {}
  for _, b in ipairs(bases) do
    for _, class in ipairs(CLASSES) do
      if budget <= 0 then break end
      local key = k('wq', b, class)
      local ids = redis.call('ZRANGE', key, '-inf', '(' .. istr(DRAIN), 'BYSCORE', 'LIMIT', 0, budget)
      for _, id in ipairs(ids) do
        budget = budget - 1
        local t = ticket(id)
        if t and t.state == 'waiting' then
          dequeue(t)
          settle(t, {state = 'expired'}, true)
          emit_ticket(t)
          expired = expired + 1
          local at = t.day .. ' ' .. local_hour(t.issued_at) .. ' ' .. t.service
          if not counts[at] then order[#order + 1] = at end
          counts[at] = (counts[at] or 0) + 1
        else
          -- the hash outlived its retention (or is no longer waiting): just drop the id
          redis.call('ZREM', key, id)
        end
      end
    end
  end
  for _, at in ipairs(order) do
    local d, h, sid = string.match(at, '^(%S+) (%S+) (.*)$')
    stat_record(d, h, sid, '', '', stat_delta{[ST_EXPIRED] = counts[at]})
  end
  local left = day_remaining(bases)
  if left == 0 then
    redis.call('DEL', k('drain'))
    DRAIN = nil
    changed()
    for i = 2, #bases do
      local b = bases[i]
      if redis.call('EXISTS', k('wq', b, 'priority'), k('wq', b, 'appointment'),
          k('wq', b, 'normal')) == 0 then
        redis.call('SREM', k('pinwins'), string.sub(b, 2))
      end
    end
    emit_queues(service_ids())
  end
  return expired, left
end

-- The highest queue score of any waiting ticket, or 0.
local function last_score(bases)
  local top = 0
  for _, b in ipairs(bases) do
    for _, class in ipairs(CLASSES) do
      local r = redis.call('ZRANGE', k('wq', b, class), -1, -1, 'WITHSCORES')
      if r[2] and tonumber(r[2]) > top then top = tonumber(r[2]) end
    end
  end
  return top
end

-- Day change (DESIGN decision 12: bounded per call). When the day moved on: fold the ended
-- day's statistics into its month, close the tickets left at windows, and mark every waiting
-- ticket of the ended days by a queue-score cutoff; from then on they are out of every call,
-- count and list, and slices of DAY_SLICE expire them (this call runs the first; qserver
-- runs qh_day until none is left). Returns the tickets this call expired.
local function change_day(day, stored)
  if stored and stored >= day then
    DAY = stored -- a lagging clock never moves the day back
    return 0
  end
  DAY = day
  redis.call('SET', k('day'), day)
  -- from here on events name only learnt times recorded from now on (model.mark)
  model.drop_joined()
  model.mark()
  trim_events()
  if not stored then return 0 end
  -- before the changes below, which count in their (now folded) day and its month; days no
  -- call saw (qserver stopped) hold only figures counted ahead (appointments), folded too
  stat_fold_day(stored)
  for n = date_number(stored) + 1, math.min(date_number(day) - 1, date_number(stored) + 400) do
    if redis.call('EXISTS', k('st', 'd:' .. civil_from_days(n))) == 1 then stat_fold_day(civil_from_days(n)) end
  end
  close_day_tickets(stored)
  local bases = all_bases()
  local top = last_score(bases)
  if top == 0 and not DRAIN then return 0 end -- nothing waits
  -- new scores start at the cutoff, so the old days' tickets are exactly those below it
  DRAIN = math.max(DRAIN or 0, top + 1, NOW * SCORE_SCALE)
  redis.call('SET', k('drain'), istr(DRAIN))
  redis.call('DEL', k('waiting')) -- every ticket waiting now is of an earlier day
  changed()
  return (day_slice())
end

-- Refuses a writing call that starts after qserver's deadline (real time, in ms).
local function check_deadline(deadline)
  if deadline == nil or deadline == '' or deadline == '0' then return end
  local d = int_arg(deadline, 'deadline_ms')
  local t = real_time()
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
  local offsets = site.utc_offsets
  if offsets == nil then offsets = {} end
  if type(offsets) ~= 'table' then fail('BAD_REQUEST', 'hall', 'site.utc_offsets must be a list') end
  for _, o in ipairs(offsets) do
    if type(o) ~= 'table' or type(o[1]) ~= 'number' or type(o[2]) ~= 'number'
        or math.abs(o[2]) > 86400 then
      fail('BAD_REQUEST', 'hall', 'site.utc_offsets holds [since_epoch, offset_seconds] pairs')
    end
  end
  -- closing minute of each weekday, Sunday first; 0 when closed that day
  local close = {}
  if site.hours ~= nil then
    if type(site.hours) ~= 'table' or #site.hours ~= 7 then
      fail('BAD_REQUEST', 'hall', 'site.hours lists 7 weekdays, Sunday first')
    end
    for d, h in ipairs(site.hours) do
      if type(h) == 'table' then
        if type(h[2]) ~= 'number' or h[2] < 1 or h[2] > 1440 then
          fail('BAD_REQUEST', 'hall', 'site.hours holds [open_minute, close_minute] or null')
        end
        close[d] = string.format('%d', h[2])
      else
        close[d] = '0'
      end
    end
  end
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
    'comprehensive', tostring(ncomp), 'close', table.concat(close, ','),
    'nsvcs', tostring(#svc_ids))
  -- a hall of few services keeps their ids with the settings (every estimate there reads them)
  if #svc_ids <= EST.PER_SERVICE_MAX then
    redis.call('HSET', k('cfg'), 'svcs', cjson.encode(svc_ids))
  else
    redis.call('HDEL', k('cfg'), 'svcs')
  end
  -- the zone's offsets, so statistics can tell the site-local hour of any moment
  redis.call('DEL', k('tz'))
  for _, o in ipairs(offsets) do
    redis.call('ZADD', k('tz'), istr(o[1]), istr(o[1]) .. ':' .. istr(o[2]))
  end
  for _, old in ipairs(redis.call('LRANGE', k('svcs'), 0, -1)) do
    if not known[old] then
      -- waiting tickets of a dropped service stay queued (callable by comprehensive windows)
      -- until they are called or expire
      redis.call('DEL', k('svc', old), k('svcwin', old))
      redis.call('HDEL', k('ewma'), old)
      redis.call('HDEL', k('cfg'), 'svc:' .. old)
    end
  end
  redis.call('DEL', k('svcs'), k('svcjson'), k('peers'))
  model.drop_joined()
  model.mark()
  for _, s in ipairs(services) do
    local st = string.format('%d', s.service_time or DEFAULT_SERVICE_TIME)
    local fields = {prefix = s.prefix == nil and s.id or s.prefix, name = tostring(s.name or ''),
      name_en = tostring(s.name_en or '')}
    redis.call('RPUSH', k('svcs'), s.id)
    -- keep what the estimate has learnt across restarts (earlier versions kept it in P:svc);
    -- seed it the first time
    local learnt = redis.call('HGET', k('svc', s.id), 'ewma')
    redis.call('HSETNX', k('ewma'), s.id, learnt or st)
    redis.call('HDEL', k('svc', s.id), 'ewma', 'peers')
    redis.call('HSET', k('svc', s.id), 'prefix', fields.prefix, 'name', fields.name,
      'name_en', fields.name_en, 'service_time', st)
    -- what a call needs of the service, read with the settings (service())
    redis.call('HSET', k('cfg'), 'svc:' .. s.id, st .. ' ' .. fields.prefix)
    redis.call('HSET', k('svcjson'), s.id, service_head(s.id, fields))
    redis.call('DEL', k('svcwin', s.id))
  end
  for _, old in ipairs(redis.call('LRANGE', k('wins'), 0, -1)) do
    if not seen_win[old] then
      redis.call('DEL', k('w', old))
    end
  end
  redis.call('DEL', k('wins'), k('open'), k('idle'))
  redis.call('DEL', k('compwins'))
  local serving, service_sets = {}, {} -- the distinct sets of services of specialised windows
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
    else
      local state = redis.call('HGET', k('w', id), 'state')
      if OPEN_STATES[state] then redis.call('SADD', k('open'), id) end
      if state == 'idle' then redis.call('SADD', k('idle'), id) end
    end
    if w.comp then
      -- one set for all comprehensive windows: they serve every service
      redis.call('SADD', k('compwins'), id)
    else
      for _, sid in ipairs(w.services) do redis.call('SADD', k('svcwin', sid), id) end
      local set = table.concat(w.services, ',')
      if not serving[set] then
        serving[set] = true
        service_sets[#service_sets + 1] = w.services
      end
    end
  end
  -- peers: the services competing with a service for its windows, needed only in a hall
  -- without comprehensive windows; worked out once per distinct set of services a window
  -- serves, so setup stays linear in services plus windows
  if ncomp == 0 then
    local peers = {}
    for _, set in ipairs(service_sets) do
      for _, sid in ipairs(set) do
        peers[sid] = peers[sid] or {}
        for _, other in ipairs(set) do peers[sid][other] = true end
      end
    end
    for _, sid in ipairs(svc_ids) do
      local list = {}
      for other in pairs(peers[sid] or {[sid] = true}) do list[#list + 1] = other end
      table.sort(list)
      redis.call('HSET', k('peers'), sid, table.concat(list, ','))
    end
  end
  -- the per-service counts the writes keep, worked out afresh (linear in services)
  redis.call('DEL', k('waiting'), k('nopen'), k('nidle')) -- P:nidle: kept by earlier versions
  for _, sid in ipairs(svc_ids) do
    local n = 0
    for _, c in ipairs(CLASSES) do n = n + zcard(k('wq', sid, c)) end
    if n > 0 then redis.call('HSET', k('waiting'), sid, n) end
    local open = redis.call('SINTERCARD', 2, k('svcwin', sid), k('open'))
    if open > 0 then redis.call('HSET', k('nopen'), sid, open) end
    local idle = redis.call('SINTERCARD', 2, k('svcwin', sid), k('idle'))
    if idle > 0 then redis.call('HSET', k('nopen'), 'i:' .. sid, idle) end
  end
  redis.call('HSET', k('nopen'), '*', redis.call('SINTERCARD', 2, k('compwins'), k('open')))
  redis.call('HSET', k('nopen'), 'i:*', redis.call('SINTERCARD', 2, k('compwins'), k('idle')))
  return '{}'
end

-- Refuses a request that gives a ticket's secret (made by qserver at take) other than the
-- ticket's; one without a secret passes, and the caller decides what it may do.
local function check_secret(t, given)
  if given ~= '' and (t.secret or '') ~= given then
    fail('UNAUTHENTICATED', 'secret', 'the ticket secret is wrong')
  end
end

-- The retention in seconds (a ticket hash's TTL), as text when it is a whole number (as Redis
-- would format the number itself), made once for each value of the setting rather than by
-- every take.
function TEXT.retention_ttl()
  local setting = cfg().retention_days
  local known = TEXT.ttl_known
  if known and known[1] == setting then return known[2] end
  local secs = (tonumber(setting or '') or DEFAULT_RETENTION_DAYS) * 86400
  local ttl = (secs % 1 == 0 and secs > 0 and secs < 9e15) and istr(secs) or secs
  TEXT.ttl_known = {setting, ttl}
  return ttl
end

-- qh_take: issues a ticket and queues it; a[5] is its secret, kept in the ticket's hash and
-- never in a result or event.
local function qh_take(a)
  local sid, class, channel, ref = a[1] or '', a[2] or '', a[3] or '', a[4] or ''
  local secret = a[5] or ''
  if sid == '' then fail('BAD_REQUEST', 'service', 'service is required') end
  local s = service(sid)
  if not s then fail('NOT_FOUND', 'service', 'service ' .. sid .. ' does not exist') end
  if class == '' then class = 'normal' end
  if not CLASS_RANK[class] then
    fail('BAD_REQUEST', 'class', 'class must be priority, appointment or normal')
  end
  if channel == '' then channel = 'kiosk' end
  -- (the default channel and an empty ref, the most common, are known to be good)
  if channel ~= 'kiosk' and (#channel > CHANNEL_MAX or not channel:match('^[%w_%-]+$')) then
    fail('BAD_REQUEST', 'channel', 'channel must be a short word of letters, digits, _ or -')
  end
  if ref ~= '' and utf8_len(ref) > REF_MAX then
    fail('BAD_REQUEST', 'ref', 'ref must be at most ' .. REF_MAX .. ' characters')
  end
  local wants = notify.parse(a[6] or '', a[7] or '')

  -- numbers count per prefix so services sharing a prefix never share a number
  local seq_key = k('seq', DAY, s.prefix)
  local seq = redis.call('INCR', seq_key)
  -- the day's numbering keys get their TTL once, with the prefix's first number
  if seq == 1 then redis.call('EXPIRE', seq_key, DAY_KEY_TTL) end
  local number = s.prefix .. string.format('%03d', seq)
  local id = sitecfg.ticket_id(number)
  -- the ticket as ticket() would read it back, in one table (with what ticket_defaults fills),
  -- and its hash written from one list: the take is the hottest call
  local t = {id = id, number = number, service = sid, class = class, channel = channel,
    state = 'waiting', day = DAY, issued_at = TEXT.now(), score = new_score(), ref = ref,
    called_at = '', started_at = '', finished_at = '', window = '', clerk = '', recalls = '0',
    transfers = '0', rating = '', pin = '', wait_from = ''}
  -- the number and day are the id's parts, normal and kiosk what ticket_defaults fills in: a
  -- new ticket's hash leaves them out
  local args = {'service', sid, 'state', 'waiting', 'issued_at', t.issued_at, 'score', t.score}
  if class ~= 'normal' then args[#args + 1], args[#args + 2] = 'class', class end
  if channel ~= 'kiosk' then args[#args + 1], args[#args + 2] = 'channel', channel end
  if ref ~= '' then args[#args + 1], args[#args + 2] = 'ref', ref end
  if secret ~= '' then
    t.secret = secret
    args[#args + 1], args[#args + 2] = 'secret', secret
  end
  if wants.ahead or wants.ewt then
    local extra = {}
    notify.set_fields(extra, wants)
    for f, v in pairs(extra) do
      t[f] = v
      args[#args + 1], args[#args + 2] = f, v
    end
  end
  redis.call('HSET', k('t', id), unpack(args))
  gen = gen + 1
  redis.call('EXPIRE', k('t', id), TEXT.retention_ttl())
  enqueue(t)
  -- the delta of an issued ticket is the same for every take: made once (read-only: shared
  -- across calls)
  TEXT.issued_delta = TEXT.issued_delta or stat_delta{[ST_ISSUED] = 1}
  stat_record(DAY, local_hour(NOW), sid, '', '', TEXT.issued_delta)
  emit_ticket(t)
  emit_queue(sid)
  return ticket_result(t), t -- the ticket too, for a check-in (register passes on the result)
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
  check_secret(t, a[3] or '')
  return notify.ticket_result(t, a[3] or '')
end

-- qh_cancel: a waiting ticket leaves the queue.
local function qh_cancel(a)
  local id = a[1] or ''
  if id == '' then fail('BAD_REQUEST', 'id', 'id is required') end
  local t = find_ticket(id) -- an id, or today's number
  if not t then fail('NOT_FOUND', 'id', 'ticket ' .. id .. ' does not exist') end
  check_secret(t, a[2] or '')
  if t.state ~= 'waiting' or stale(t) then
    fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is ' .. (stale(t) and 'expired' or t.state) ..
      ', not waiting')
  end
  dequeue(t)
  settle(t, {state = 'cancelled'})
  emit_ticket(t)
  emit_queue(t.service)
  return ticket_result(t)
end

-- qh_rate: records a score (and comment) of a ticket done or a no-show, once; a[3] is the
-- ticket's secret (or ''), a[4] the comment, a[5] the follow-up's due date, a[6] the window of
-- a rating pad (or ''), a[7] who rates (docs/ratings.md).
local function qh_rate(a)
  local id = a[1] or ''
  if id == '' then fail('BAD_REQUEST', 'id', 'id is required') end
  local score = int_arg(a[2] or '', 'score', 1, 5)
  local comment, due, pad, source = a[4] or '', a[5] or '', a[6] or '', a[7] or ''
  ratings.check(score, comment, due)
  local t = find_ticket(id) -- an id, or today's number
  if not t then fail('NOT_FOUND', 'id', 'ticket ' .. id .. ' does not exist') end
  check_secret(t, a[3] or '')
  if pad ~= '' then
    -- a pad rates what was just finished at its window, and nothing else
    local finished = tonumber(t.finished_at)
    if t.state ~= 'done' or t.window ~= pad or not finished or NOW - finished > ratings.PAD_SECONDS
        or NOW < finished then
      fail('FORBIDDEN', 'ticket', 'this pad rates only tickets finished at window ' .. pad ..
        ' in the last ' .. ratings.PAD_SECONDS .. ' s')
    end
  elseif t.state ~= 'done' and t.state ~= 'no_show' then
    fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is ' .. t.state ..
      '; only tickets done or no-show are rated')
  end
  if t.rating ~= '' then fail('CONFLICT', 'id', 'ticket ' .. t.number .. ' is already rated') end
  tset(t, {rating = tostring(score)})
  stat_record(t.fday or DAY, t.fhour or local_hour(t.finished_at), t.service, t.window, t.clerk,
    stat_delta{[ST_RATINGS] = 1, [ST_RATING_SUM] = score, [ST_R1 + score - 1] = 1})
  ratings.record(t, score, comment, due, source)
  emit_ticket(t)
  return ticket_result(t)
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
  local was, old_holder = w.state, w.holder
  local fields = {clerk = clerk, holder = holder, lease_until = tostring(lease)}
  if was == 'closed' then fields.state = 'idle' end
  wset(w, fields)
  if old_holder ~= '' and old_holder ~= holder then
    -- The old holder may live in another qserver: each reads this and closes its own.
    redis.call('PUBLISH', k('ev'), 'session ' .. old_holder .. ' ' .. w.id)
  end
  emit_window(w)
  if was == 'closed' then emit_queues(window_affects(w)) end
  return '{"window":' .. window_json(w) .. '}'
end

-- qh_lease: renews the leases a holder has on the listed windows; `lost` lists those another
-- holder has taken over since.
local function qh_lease(a)
  local holder = a[1] or ''
  if holder == '' then fail('BAD_REQUEST', 'holder', 'holder is required') end
  local lease = int_arg(a[2] or '', 'lease_until')
  local ids = {}
  for i = 3, #a do ids[#ids + 1] = tostring(int_arg(a[i], 'window', 1, 999999)) end
  local lost = {}
  for _, id in ipairs(ids) do
    local now_held_by = redis.call('HGET', k('w', id), 'holder')
    if now_held_by == holder then
      redis.call('HSET', k('w', id), 'lease_until', tostring(lease))
    elseif now_held_by and now_held_by ~= '' then
      lost[#lost + 1] = id
    end
  end
  return '{"lost":[' .. table.concat(lost, ',') .. ']}'
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
    return ticket_result(nil)
  end
  call_ticket(w, t, clerk)
  if done and done.service ~= t.service then emit_queue(done.service) end
  return ticket_result(t)
end

-- qh_call: calls one waiting ticket out of order.
local function qh_call(a)
  local w = load_window(a[1] or '')
  local clerk, ref = a[2] or '', a[3] or ''
  if ref == '' then fail('BAD_REQUEST', 'ticket', 'ticket is required') end
  local t = find_ticket(ref)
  if not t then fail('NOT_FOUND', 'ticket', 'ticket ' .. ref .. ' does not exist') end
  if t.state ~= 'waiting' or stale(t) then
    fail('CONFLICT', 'ticket', 'ticket ' .. t.number .. ' is ' .. (stale(t) and 'expired' or t.state) ..
      ', not waiting')
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
  return ticket_result(t)
end

-- qh_recall: announces the called ticket again.
local function qh_recall(a)
  local w = load_window(a[1] or '')
  local t = window_ticket(w, {called = true}, 'recall')
  tset(t, {recalls = tostring(tonumber(t.recalls) + 1)})
  emit_ticket(t)
  emit_called(t, w, t.recalls)
  return ticket_result(t)
end

-- qh_start: the citizen arrived; the called ticket is now being served.
local function qh_start(a)
  local w = load_window(a[1] or '')
  local t = window_ticket(w, {called = true}, 'start')
  tset(t, {state = 'serving', started_at = tostring(NOW)})
  wset(w, {state = 'serving'})
  emit_ticket(t)
  emit_window(w)
  return ticket_result(t)
end

-- qh_finish: the window's ticket is done, with an optional rating, its comment (a[3]) and
-- the due date of a follow-up should it be bad (a[4]).
local function qh_finish(a)
  local w = load_window(a[1] or '')
  local rating = a[2] or ''
  if rating ~= '' then rating = tostring(int_arg(rating, 'rating', 1, 5)) end
  ratings.check(tonumber(rating), a[3] or '', a[4] or '')
  local t = window_ticket(w, {called = true, serving = true}, 'finish')
  local fields = {state = 'done', finished_at = TEXT.now()}
  if rating ~= '' then fields.rating = rating end
  settle(t, fields)
  if rating ~= '' then ratings.record(t, tonumber(rating), a[3] or '', a[4] or '', 'clerk') end
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  emit_queue(t.service) -- the service time estimate moved
  return ticket_result(t)
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
      score = new_score(), wait_from = tostring(NOW)})
    enqueue(t)
  else
    settle(t, {state = 'no_show'})
  end
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  emit_queue(t.service) -- waiting again, or the time it held the window was learnt
  return ticket_result(t)
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
    window = '', clerk = '', transfers = tostring(tonumber(t.transfers) + 1),
    wait_from = tostring(NOW)})
  enqueue(t) -- at its old score: the original issue keeps its place
  window_idle(w)
  emit_ticket(t)
  emit_window(w)
  emit_queue(sid)
  return ticket_result(t)
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
  return window_result(w)
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
  return window_result(w)
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
  return window_result(w)
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
      local count = (sid ~= '' and b:sub(1, 1) == 'w') and -1 or limit
      local r = queue_head(k('wq', b, class), count)
      for i = 1, #r, 2 do cand[#cand + 1] = {id = r[i], score = tonumber(r[i + 1])} end
    end
    table.sort(cand, function(x, y) return x.score < y.score end)
    for _, c in ipairs(cand) do
      if #out >= limit then break end
      local t = ticket(c.id)
      if t and (sid == '' or t.service == sid) then out[#out + 1] = ticket_compact(t) end
    end
  end
  return '["tickets",' .. jarr(out) .. ']'
end

-- qh_services: every service with live waiting and ewt.
local function qh_services()
  return '{"services":' .. services_compact() .. '}'
end

-- Today's headline figures for the wall and the consoles (the hall's total row of today, as
-- stats would give it): how many came, were served, and how long they waited against the
-- target. Read from the day's aggregate, so it costs one HMGET.
local function today_json()
  local r = stat_read(k('st', 'd:' .. DAY), 't')
  local waits = r[ST_WAITS]
  return jobj('date', cjson.encode(DAY), 'issued', jint(r[ST_ISSUED]), 'served', jint(r[ST_SERVED]),
    'waits', jint(waits),
    'wait_mean', waits > 0 and jint(math.floor(r[ST_WAIT_SUM] / waits + 0.5)) or 'null',
    'sla_pct', waits > 0 and string.format('%.1f', 100 * r[ST_WAIT_SLA] / waits) or 'null')
end

-- qh_snapshot: what a display needs after (re)connecting.
local function qh_snapshot()
  local wins = {}
  for _, id in ipairs(redis.call('LRANGE', k('wins'), 0, -1)) do
    local w = window(id)
    if w then wins[#wins + 1] = window_json(w) end
  end
  local recent = redis.call('LRANGE', k('recent'), 0, RECENT_CALLS - 1)
  return '{"services":' .. services_compact() .. ',"windows":' .. jarr(wins) ..
    ',"recent":' .. jarr(recent) .. ',"today":' .. today_json() .. '}'
end

-- qh_day: the day change (its first slice is run by the wrapper) or its next slice,
-- reporting how many tickets this call expired (and appointments it marked missed) and how
-- many of both wait for the next slices.
local function qh_day()
  if DRAIN and not SLICED then EXPIRED = day_slice() end
  local left = DRAIN and day_remaining(all_bases()) or 0
  local missed, appts_left = appt.miss_slice()
  return '{"expired":' .. jint(EXPIRED) .. ',"remaining":' .. jint(left + appts_left) ..
    ',"missed":' .. jint(missed) .. '}'
end

-- Parses a real calendar date argument into its day number.
local function date_arg(s, field)
  local y, m, d = string.match(s or '', '^(%d%d%d%d)%-(%d%d)%-(%d%d)$')
  if not y then fail('BAD_REQUEST', field, field .. ' must be a date YYYY-MM-DD') end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  local n = days_from_civil(y, m, d)
  if m < 1 or m > 12 or d < 1 or civil_from_days(n) ~= s then
    fail('BAD_REQUEST', field, field .. ' ' .. s .. ' is not a date of the calendar')
  end
  return n
end

-- The nearest-rank percentile p of a record's waits, estimated from its histogram: the
-- middle of the rank's share of its bucket, so the error is under the bucket's width.
local function hist_percentile(r, p)
  local n = r[ST_WAITS]
  local rank = math.max(1, math.ceil(p * n / 100 - 1e-9))
  local cum = 0
  for b = 0, HIST_LAST do
    local c = r.h[b]
    if c and c > 0 then
      if cum + c >= rank then
        local lo = HIST_LO[b + 1]
        local hi = HIST_LO[b + 2] or math.max(r[ST_WAIT_MAX] + 1, lo + 1)
        local est = lo + (rank - cum - 0.5) / c * (hi - lo)
        return math.min(math.floor(est + 0.5), r[ST_WAIT_MAX])
      end
      cum = cum + c
    end
  end
  return r[ST_WAIT_MAX]
end

-- A number with one decimal for JSON.
local function jdec1(x)
  return string.format('%.1f', x)
end

-- The stats row of PROTOCOL.md for one key (means and percentiles null with no samples).
local function stats_row_json(key, r)
  local waits, served, ratings = r[ST_WAITS], r[ST_SERVED], r[ST_RATINGS]
  local wait_mean, p50, p90, wmax, sla = 'null', 'null', 'null', 'null', 'null'
  if waits > 0 then
    wait_mean = jint(math.floor(r[ST_WAIT_SUM] / waits + 0.5))
    p50, p90 = jint(hist_percentile(r, 50)), jint(hist_percentile(r, 90))
    wmax = jint(r[ST_WAIT_MAX])
    sla = jdec1(100 * r[ST_WAIT_SLA] / waits)
  end
  -- tickets closed by the day change were served for an unknown time
  local timed = served - r[ST_CLOSED]
  local service_mean = timed > 0 and jint(math.floor(r[ST_SERVICE_SUM] / timed + 0.5)) or 'null'
  local rating_mean = ratings > 0 and jdec1(r[ST_RATING_SUM] / ratings) or 'null'
  return jobj('key', cjson.encode(key), 'issued', jint(r[ST_ISSUED]), 'served', jint(served),
    'no_show', jint(r[ST_NO_SHOW]), 'cancelled', jint(r[ST_CANCELLED]),
    'expired', jint(r[ST_EXPIRED]), 'wait_mean', wait_mean, 'wait_p50', p50, 'wait_p90', p90,
    'wait_max', wmax, 'service_mean', service_mean, 'sla_pct', sla, 'rating_mean', rating_mean,
    'ratings', jint(ratings), 'waits', jint(waits), 'closed_by_day', jint(r[ST_CLOSED]),
    'rating_counts', jarr{jint(r[ST_R1]), jint(r[ST_R1 + 1]), jint(r[ST_R1 + 2]), jint(r[ST_R1 + 3]), jint(r[ST_R1 + 4])},
    'appt_booked', jint(r[ST_APPT]), 'appt_checked_in', jint(r[ST_APPT + 1]),
    'appt_missed', jint(r[ST_APPT + 2]), 'appt_cancelled', jint(r[ST_APPT + 3]))
end

-- The periods covering days [from, to]: whole months as "m:YYYY-MM", other days as
-- "d:YYYY-MM-DD" (by=day always reads days).
local function stats_periods(from, to, whole_months)
  local out = {}
  local n = from
  while n <= to do
    local date = civil_from_days(n)
    local y, m = tonumber(string.sub(date, 1, 4)), tonumber(string.sub(date, 6, 7))
    local next_month = m == 12 and days_from_civil(y + 1, 1, 1) or days_from_civil(y, m + 1, 1)
    if whole_months and string.sub(date, 9, 10) == '01' and next_month - 1 <= to then
      out[#out + 1] = {period = 'm:' .. string.sub(date, 1, 7), day = date}
      n = next_month
    else
      out[#out + 1] = {period = 'd:' .. date, day = date}
      n = n + 1
    end
  end
  return out
end

local STATS_BY = {total = 't', day = 't', window = 'w:', service = 's:', clerk = 'c:', hour = 'h:'}

-- qh_stats (no-writes): rows of PROTOCOL.md summed from the aggregates over [from, to],
-- optionally restricted to one window's tickets; offset pages through long answers.
local function qh_stats(a)
  local from, to = date_arg(a[1], 'from'), date_arg(a[2], 'to')
  if from > to then fail('BAD_REQUEST', 'to', 'to must not be before from') end
  if to - from + 1 > STATS_MAX_DAYS then
    fail('BAD_REQUEST', 'to', 'the range must be at most ' .. STATS_MAX_DAYS .. ' days')
  end
  local by = a[3] or ''
  if by == '' then by = 'total' end
  if not STATS_BY[by] then
    fail('BAD_REQUEST', 'by', 'by must be total, service, window, clerk, hour or day')
  end
  local win = a[4] or ''
  if win ~= '' then win = string.format('%d', int_arg(win, 'window', 1, 999999)) end
  local offset = 0
  if (a[5] or '') ~= '' then offset = int_arg(a[5], 'offset', 0, 1000000) end

  local recs, keys = {}, {}
  -- The row of key, made empty the first time.
  local function row(key)
    local r = recs[key]
    if not r then
      r = rec_decode(nil)
      recs[key] = r
      keys[#keys + 1] = key
    end
    return r
  end
  if by == 'hour' then
    for h = 0, 23 do row(string.format('%02d', h)) end
  end
  local prefix = STATS_BY[by]
  local periods = stats_periods(from, to, by ~= 'day')
  -- the stored day, and the later days appointments are counted on ahead, are not folded
  -- into their month yet: a whole month holding them reads them too
  local unfolded = redis.call('GET', k('day'))
  if unfolded then
    local n = #periods
    for i = 1, n do
      local p = periods[i]
      if string.sub(p.period, 1, 2) == 'm:' and string.sub(p.period, 3) >= string.sub(unfolded, 1, 7) then
        local d = math.max(date_number(p.day), date_number(unfolded))
        while string.sub(civil_from_days(d), 1, 7) == string.sub(p.period, 3) do
          periods[#periods + 1] = {period = 'd:' .. civil_from_days(d), day = civil_from_days(d)}
          d = d + 1
        end
      end
    end
  end
  for _, p in ipairs(periods) do
    local all = k('st', p.period)
    if by == 'total' or by == 'day' or (by == 'window' and win ~= '') then
      -- one record: the hall's total or the window's
      local rec = win ~= '' and 'w:' .. win or 't'
      local key = (by == 'day' and p.day) or (by == 'window' and win) or 'total'
      rec_merge(row(key), stat_read(all, rec))
    else
      local src = win ~= '' and k('st', p.period, 'w' .. win) or all
      local flat = redis.call('HGETALL', src)
      for i = 1, #flat, 2 do
        local rec, name = stat_field(flat[i])
        if string.sub(rec, 1, #prefix) == prefix then
          rec_add_field(row(string.sub(rec, #prefix + 1)), name, flat[i + 1])
        end
      end
    end
  end
  if by == 'total' and #keys == 0 then row('total') end

  -- order: days and hours by time, services in config order, windows by number, clerks by id
  if by == 'service' then
    local rank = {}
    for i, sid in ipairs(service_ids()) do rank[sid] = i end
    table.sort(keys, function(x, y)
      local rx, ry = rank[x] or math.huge, rank[y] or math.huge
      if rx ~= ry then return rx < ry end
      return x < y
    end)
  elseif by == 'window' then
    table.sort(keys, function(x, y) return tonumber(x) < tonumber(y) end)
  else
    table.sort(keys)
  end

  local rows, bytes, more, next_offset = {}, 0, false, nil
  for i = offset + 1, #keys do
    local row = stats_row_json(keys[i], recs[keys[i]])
    if bytes + #row + 1 > STATS_MAX_BYTES and #rows > 0 then
      more, next_offset = true, i - 1
      break
    end
    rows[#rows + 1] = row
    bytes = bytes + #row + 1
  end
  local out = {'from', cjson.encode(a[1]), 'to', cjson.encode(a[2]), 'by', cjson.encode(by),
    'window', win ~= '' and win or 'null', 'rows', jarr(rows), 'more', more and 'true' or 'false'}
  if more then
    out[#out + 1] = 'next_offset'
    out[#out + 1] = jint(next_offset)
  end
  return jobj(unpack(out))
end

------------------------------------------------------------------------------------------
-- Notifications ("your turn is near"; docs/notifications.md)
--
-- A ticket taken with notify {ahead N and/or ewt S} keeps notify_ahead and notify_ewt in its
-- hash and waits in P:nw:<service>, a zset of the service's watched tickets in call order;
-- P:nws holds the largest marks of each service that has any. After every writing call, the
-- services whose queue moved (its "q" events) have their watchers checked in call order, up
-- to notify.CHECK of them: one at or under its mark gets a `near` delivery, once; a called
-- ticket (its "c" event) gets `called`, once. A delivery is a hash P:nd:<id>:<event> and a
-- member "<id>:<event>" of P:nq, scored by the real time (ms) it is due; qserver claims due
-- ones for a lease (qh_notify_claim) and settles them (qh_notify_settle) once the receiver
-- answered or it gave up. Those times are real milliseconds that qserver passes: retries are
-- about real time, as the deadline is, not the hall's clock.

-- (In the one table `notify`, as a Lua chunk has at most 200 locals.)
notify.CHECK = 32             -- watchers checked per service and call, earliest in line first
notify.AHEAD_MAX = 999        -- notify.ahead at most
notify.EWT_MAX = 86400        -- notify.ewt at most (seconds)
notify.KEY_TTL = 2 * 86400    -- watch sets and deliveries outlive their day
notify.CLAIM_MAX = 100        -- deliveries one claim hands out
notify.CLASS_STEP = 4e15      -- watch-set score of a class above the one before (queue scores < 4e15)
notify.NONE = {}              -- an empty table, only read: no marks asked for, no notes of a kind

-- Reads the notify marks of a take or a notify call ("" for none); {} when neither is given.
function notify.parse(ahead, ewt)
  if ahead == '' and ewt == '' then return notify.NONE end
  local wants = {}
  if ahead ~= '' then wants.ahead = int_arg(ahead, 'notify', 0, notify.AHEAD_MAX) end
  if ewt ~= '' then wants.ewt = int_arg(ewt, 'notify', 0, notify.EWT_MAX) end
  return wants
end

-- Adds a ticket's notify marks to the fields about to be written.
function notify.set_fields(fields, wants)
  if wants.ahead then fields.notify_ahead = istr(wants.ahead) end
  if wants.ewt then fields.notify_ewt = istr(wants.ewt) end
end

-- The ticket's notify object ({"ahead":N,"ewt":S}), or nil when it asked for none.
function notify.json(t)
  if (t.notify_ahead or '') == '' and (t.notify_ewt or '') == '' then return nil end
  local parts = {}
  if (t.notify_ahead or '') ~= '' then parts[#parts + 1] = 'ahead'; parts[#parts + 1] = jint(t.notify_ahead) end
  if (t.notify_ewt or '') ~= '' then parts[#parts + 1] = 'ewt'; parts[#parts + 1] = jint(t.notify_ewt) end
  return jobj(unpack(parts))
end

-- A ticket result that, for the holder of its secret, adds what it asked to be told.
function notify.ticket_result(t, secret)
  local n = secret ~= '' and notify.json(t)
  if not n then return ticket_result(t) end
  return '["ticket",' .. ticket_compact(t) .. ',{"notify":' .. n .. '}]'
end

-- Puts a waiting ticket that still waits for its `near` in its service's watch set.
function notify.watch(t)
  if (t.notify_ahead or '') == '' and (t.notify_ewt or '') == '' then return end
  if (t.notified_near or '') ~= '' or t.state ~= 'waiting' then return end
  -- in call order: class first, then queue score (a double keeps the order to well under a
  -- take's step, which is all the order needs)
  local rank = (CLASS_RANK[t.class] or 3) - 1
  redis.call('ZADD', k('nw', t.service), istr(rank * notify.CLASS_STEP + tonumber(t.score)), t.id)
  redis.call('EXPIRE', k('nw', t.service), notify.KEY_TTL)
  -- the largest marks of the service's watchers (-1: none), kept while it has any
  local m = notify.marks(t.service)
  local a, e = tonumber(t.notify_ahead or '') or -1, tonumber(t.notify_ewt or '') or -1
  if a > m[1] or e > m[2] or m[0] then
    redis.call('HSET', k('nws'), t.service, istr(math.max(a, m[1])) .. ' ' .. istr(math.max(e, m[2])))
  end
end

-- The largest marks of a service's watchers as {ahead, ewt} (-1 for none); [0] is true when
-- the service has none.
function notify.marks(sid, stored)
  if stored == nil then stored = redis.call('HGET', k('nws'), sid) end
  local a, e = string.match(stored or '', '^(%-?%d+) (%-?%d+)$')
  if not a then return {[0] = true, -1, -1} end
  return {tonumber(a), tonumber(e)}
end

-- Queues one delivery of an event (near or called) of a ticket, marking it sent for good.
function notify.queue(t, event, ahead, ewt, window)
  tset(t, {['notified_' .. event] = '1'})
  local member = t.id .. ':' .. event
  redis.call('HSET', k('nd', member), 'id', t.id, 'event', event, 'number', t.number,
    'ref', (t.notify_ref or '') ~= '' and t.notify_ref or t.ref or '', 'ahead', ahead, 'ewt', ewt, 'window', window, 'attempts', '0')
  redis.call('EXPIRE', k('nd', member), notify.KEY_TTL)
  redis.call('ZADD', k('nq'), 0, member) -- due at once
end

-- Checks the first watchers of a service: sends `near` to those at or under their mark and
-- drops those that no longer wait in it.
-- The watchers are in call order, so a later one (of the service's own queue) has at least as
-- many tickets ahead, and as long a wait, as an earlier one: the check ends at the first one
-- past the largest marks of them all (`stored`: the service's field of P:nws, when read).
function notify.check_service(sid, stored)
  local key = k('nw', sid)
  local m = notify.marks(sid, stored)
  local ids = redis.call('ZRANGE', key, 0, notify.CHECK - 1)
  for _, id in ipairs(ids) do
    local t = ticket(id)
    if not t or t.state ~= 'waiting' or stale(t) or t.service ~= sid or (t.notified_near or '') ~= '' then
      redis.call('ZREM', key, id)
    else
      local ahead, ewt = notify.estimate(t)
      local mark_ahead, mark_ewt = tonumber(t.notify_ahead or ''), tonumber(t.notify_ewt or '')
      if (mark_ahead and ahead <= mark_ahead) or (mark_ewt and ewt <= mark_ewt) then
        redis.call('ZREM', key, id)
        notify.queue(t, 'near', istr(ahead), istr(ewt), '')
      elseif (t.pin or '') == '' and ahead > m[1] and ewt > m[2] then
        break -- nobody behind it is near yet
      end
    end
  end
  if redis.call('ZCARD', key) == 0 then redis.call('HDEL', k('nws'), sid) end
end

-- A watched ticket's people ahead and median wait, as numbers: qserver works out the
-- estimates clients see (estimate.c, from model.inputs), but a "near" mark in seconds must be
-- judged here, in the call that may queue the notification. Keep it in step with
-- estimate_ticket in qserver/estimate.c, its C twin; it runs only for the few watchers
-- notify.check_service looks at.
function notify.estimate(t)
  local ahead, work, n, idle, stage, stage_var
  local pinned = t.pin ~= nil and t.pin ~= ''
  if pinned then
    local w = window(t.pin)
    ahead = count_ahead(w and window_bases(w) or {'w' .. t.pin}, t.class, t.score)
    stage, stage_var = model.service_time_var(t.service)
    work, n, idle = ahead * stage, 1, (w and w.state == 'idle') and 1 or 0
  else
    local sids = model.competing_services(t.service)
    model.prefetch_ewma({'*', t.service, EST.CLASS_SHARES, unpack(sids)})
    ahead = count_ahead(service_bases(t.service), t.class, t.score)
    n, idle = open_windows(t.service), model.idle_windows(t.service)
    stage, stage_var = model.stage_time(t.service)
    local mean_other = stage
    if #sids > 0 then
      local count, total = model.waiting_load(sids)
      local others = total - model.service_time_var(t.service)
      if count > 1 and others > 0 then mean_other = others / (count - 1) end
    end
    work = ahead * mean_other
  end
  if ahead < idle then return ahead, 0 end
  local ewt = model.wait_range(ahead, work, stage, stage_var, n, pinned and 0 or model.jump_share(t.class))
  return ahead, ewt
end

-- Notes what this call's events were about (emit_ticket, emit_queue, emit_called call it):
-- kind `tickets`, `services` or `calls`, each once by key, in order. The notes belong to the
-- call whose events table is current, so a call that failed leaves none to the next.
function notify.seen(kind, key, value)
  -- the tables made as they are needed: each costs an allocation and the collector's work
  local notes = notify.notes
  if notify.of ~= events then
    notes = {}
    notify.of, notify.notes = events, notes
  end
  local list = notes[kind]
  if not list then
    list = {}
    notes[kind] = list
  end
  if not list[key] then
    list[key] = true
    list[#list + 1] = value
  end
end

-- After a call's writes: tickets waiting again (a take, a transfer, a requeue) join their
-- service's watchers, services whose queue moved are checked, and a ticket that was called
-- for the first time gets `called`.
function notify.after_call()
  if notify.of ~= events or not notify.notes then return end
  local notes = notify.notes
  notify.of, notify.notes = nil, nil
  for _, t in ipairs(notes.tickets or notify.NONE) do
    if t.state == 'waiting' then notify.watch(t) end
  end
  local touched = notes.services or notify.NONE
  if #touched > 0 then
    local watched = redis.call('HMGET', k('nws'), unpack(touched))
    for i, sid in ipairs(touched) do
      if watched[i] then notify.check_service(sid, watched[i]) end
    end
  end
  for _, c in ipairs(notes.calls or notify.NONE) do
    local t = c[1]
    if ((t.notify_ahead or '') ~= '' or (t.notify_ewt or '') ~= '') and (t.notified_called or '') == '' then
      redis.call('ZREM', k('nw', t.service), t.id)
      notify.queue(t, 'called', '0', '0', c[2])
    end
  end
end

-- qh_notify: the holder of a waiting ticket's secret asks to be told when its turn is near
-- (a[1] ticket, a[2] secret, a[3] ahead, a[4] ewt, a[5] the phone to tell, "" to keep the
-- take's ref); the marks replace earlier ones.
function notify.qh_notify(a)
  local id, secret = a[1] or '', a[2] or ''
  if id == '' then fail('BAD_REQUEST', 'ticket', 'ticket is required') end
  local wants = notify.parse(a[3] or '', a[4] or '')
  if not wants.ahead and not wants.ewt then
    fail('BAD_REQUEST', 'notify', 'notify needs ahead or ewt')
  end
  local phone = a[5] or ''
  if utf8_len(phone) > REF_MAX then
    fail('BAD_REQUEST', 'ref', 'ref must be at most ' .. REF_MAX .. ' characters')
  end
  local t = find_ticket(id)
  if not t then fail('NOT_FOUND', 'ticket', 'ticket ' .. id .. ' does not exist') end
  if secret == '' then fail('UNAUTHENTICATED', 'secret', 'the ticket secret is required') end
  check_secret(t, secret)
  if t.state ~= 'waiting' or stale(t) then
    fail('CONFLICT', 'ticket', 'ticket ' .. t.number .. ' is ' .. (stale(t) and 'expired' or t.state) ..
      ', not waiting')
  end
  local fields = {notify_ahead = '', notify_ewt = ''}
  if phone ~= '' then fields.notify_ref = phone end
  notify.set_fields(fields, wants)
  tset(t, fields)
  notify.watch(t)
  notify.check_service(t.service)
  return notify.ticket_result(t, secret)
end

-- qh_notify_claim: hands out up to a[3] deliveries due by a[1] (real ms) for a lease of a[2]
-- ms, as JSON [[member, id, event, number, ref, ahead, ewt, window, attempts, since, owner]];
-- a[4] names the claimer. A claimer that dies leaves its deliveries due again at the lease's
-- end. A `near` whose ticket no longer waits (called, cancelled, expired) is dropped: moot.
function notify.qh_claim(a)
  local now = int_arg(a[1] or '', 'now_ms', 0)
  local lease = int_arg(a[2] or '', 'lease_ms', 1, 3600000)
  local max = int_arg(a[3] or '', 'max', 1, notify.CLAIM_MAX)
  local claimer = a[4] or ''
  local due = redis.call('ZRANGE', k('nq'), '-inf', istr(now), 'BYSCORE', 'LIMIT', 0, max)
  local out = {}
  for _, member in ipairs(due) do
    local d = hgetall(k('nd', member))
    local moot = d and d.event == 'near' and redis.call('HGET', k('t', d.id or ''), 'state') ~= 'waiting'
    if not d or moot then
      redis.call('ZREM', k('nq'), member)
      redis.call('DEL', k('nd', member))
    else
      local attempts = (tonumber(d.attempts) or 0) + 1
      local since = (d.since or '') ~= '' and d.since or istr(now)
      local owner = claimer .. ':' .. attempts
      redis.call('HSET', k('nd', member), 'attempts', istr(attempts), 'since', since, 'owner', owner)
      redis.call('ZADD', k('nq'), istr(now + lease), member)
      out[#out + 1] = cjson.encode({member, d.id or '', d.event or '', d.number or '', d.ref or '',
        d.ahead or '', d.ewt or '', d.window or '', istr(attempts), since, owner})
    end
  end
  return jarr(out)
end

-- qh_notify_settle: the end of a claimed attempt (a[1] member, a[2] owner): a[3] `done` or
-- `gave_up` forgets the delivery, `retry` makes it due again at a[4] (real ms). A claimer
-- whose lease ran out (another holds it now) changes nothing.
function notify.qh_settle(a)
  local member, owner, outcome = a[1] or '', a[2] or '', a[3] or ''
  if outcome ~= 'done' and outcome ~= 'gave_up' and outcome ~= 'retry' then
    fail('BAD_REQUEST', 'outcome', 'outcome must be done, gave_up or retry')
  end
  local due = outcome == 'retry' and int_arg(a[4] or '', 'due_ms', 0) or 0
  if redis.call('HGET', k('nd', member), 'owner') ~= owner then return '{"settled":false}' end
  if outcome == 'retry' then
    redis.call('ZADD', k('nq'), istr(due), member)
  else
    redis.call('ZREM', k('nq'), member)
    redis.call('DEL', k('nd', member))
  end
  return '{"settled":true}'
end

------------------------------------------------------------------------------------------
-- Ratings (好差评: PROTOCOL.md v2 "Ratings"; docs/ratings.md)
--
-- One rating per ticket, kept apart from the ticket (which expires with the retention):
--   P:rating:<ticket id>  hash: ticket, number, service, window, clerk, score, comment, at,
--                         source, and for a bad one (score 1-2) its follow-up: fstate (open or
--                         resolved), due, note, by, fat
--   P:ratings             zset of the rated ticket ids by rating time
--   P:ratings:bad         zset of the bad ones by rating time
--   P:followups           zset of the open follow-ups by the day number of their due date
-- A rating leaves with the retention, counted from its time; an open follow-up stays until
-- it is resolved.

ratings.COMMENT_MAX = 200
ratings.NOTE_MAX = 500
ratings.PAD_SECONDS = 120 -- a pad rates a ticket finished at its window this long ago at most
ratings.TRIM = 20 -- old ratings removed per new one, so no call grows with the history
ratings.SCAN = 1000 -- entries one ratings call reads at most
ratings.MAX_BYTES = 60000 -- entries per answer stay under the protocol's 64 KiB line

-- Refuses, before any write, a comment over COMMENT_MAX characters or, for a bad score, a due
-- date that is not YYYY-MM-DD (qserver checks both first; this keeps the rule).
function ratings.check(score, comment, due)
  if utf8_len(comment) > ratings.COMMENT_MAX then
    fail('BAD_REQUEST', 'comment', 'comment must be at most ' .. ratings.COMMENT_MAX .. ' characters')
  end
  if score and score <= 2 then date_arg(due, 'due') end
end

-- Removes up to TRIM ratings older than the retention, but not open follow-ups.
function ratings.trim()
  local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
  local old = redis.call('ZRANGEBYSCORE', k('ratings'), '-inf', '(' .. istr(NOW - days * 86400),
    'LIMIT', 0, ratings.TRIM)
  for _, id in ipairs(old) do
    if not redis.call('ZSCORE', k('followups'), id) then
      redis.call('ZREM', k('ratings'), id)
      redis.call('ZREM', k('ratings', 'bad'), id)
      redis.call('DEL', k('rating', id))
    end
  end
end

-- Stores ticket t's rating (the ticket's own rating field is set by the caller); a score of
-- 1 or 2 opens a follow-up due on `due` (YYYY-MM-DD, worked out by qserver).
function ratings.record(t, score, comment, due, source)
  ratings.trim()
  local h = {ticket = t.id, number = t.number, service = t.service, window = t.window,
    clerk = t.clerk, score = tostring(score), at = istr(NOW), source = source}
  if comment ~= '' then h.comment = comment end
  redis.call('ZADD', k('ratings'), NOW, t.id)
  if score <= 2 then
    h.fstate, h.due = 'open', due
    redis.call('ZADD', k('ratings', 'bad'), NOW, t.id)
    redis.call('ZADD', k('followups'), date_arg(due, 'due'), t.id)
  end
  hset(k('rating', t.id), {}, h)
end

-- A rating entry of PROTOCOL.md from its hash.
function ratings.entry_json(h)
  local f = 'null'
  if (h.fstate or '') ~= '' then
    f = jobj('state', jstr(h.fstate), 'due', jstr(h.due), 'note', jstr(h.note), 'by', jstr(h.by),
      'at', jint(h.fat))
  end
  return jobj('ticket', jstr(h.ticket), 'number', jstr(h.number), 'service', jstr(h.service),
    'window', jint(h.window), 'clerk', jstr(h.clerk), 'score', jint(h.score),
    'comment', jstr(h.comment), 'source', jstr(h.source), 'at', jint(h.at), 'followup', f)
end

-- The first epoch second of day number n in the site's time zone.
function ratings.day_start(n)
  local t = n * 86400
  return t - utc_offset(t)
end

-- qh_ratings (no-writes): the ratings made in [from, to] (site days), in time order; a[3]
-- '1' for bad ones only, a[4] the follow-up state (open, resolved or ''), a[5] at most this
-- many, a[6] the offset into the range. It reads at most SCAN entries, so a page may be short
-- while `more` says to ask again from next_offset.
function ratings.qh_ratings(a)
  local from, to = date_arg(a[1], 'from'), date_arg(a[2], 'to')
  if from > to then fail('BAD_REQUEST', 'to', 'to must not be before from') end
  local bad, state = a[3] == '1', a[4] or ''
  if state ~= '' and state ~= 'open' and state ~= 'resolved' then
    fail('BAD_REQUEST', 'state', 'state must be open or resolved')
  end
  local limit = int_arg(a[5] or '', 'limit', 1, 1000)
  local offset = int_arg(a[6] or '', 'offset', 0, 100000000)
  local key = (bad or state ~= '') and k('ratings', 'bad') or k('ratings')
  local ids = redis.call('ZRANGEBYSCORE', key, istr(ratings.day_start(from)),
    '(' .. istr(ratings.day_start(to + 1)), 'LIMIT', offset, ratings.SCAN)
  local out, bytes, next_offset = {}, 0, nil
  for i, id in ipairs(ids) do
    local h = hgetall(k('rating', id))
    if h and (state == '' or h.fstate == state) then
      local entry = ratings.entry_json(h)
      if #out == limit or bytes + #entry + 1 > ratings.MAX_BYTES then
        next_offset = offset + i - 1
        break
      end
      out[#out + 1] = entry
      bytes = bytes + #entry + 1
    end
  end
  if not next_offset and #ids == ratings.SCAN then next_offset = offset + ratings.SCAN end
  local res = {'from', cjson.encode(a[1]), 'to', cjson.encode(a[2]), 'ratings', jarr(out),
    'more', next_offset and 'true' or 'false'}
  if next_offset then
    res[#res + 1] = 'next_offset'
    res[#res + 1] = jint(next_offset)
  end
  return jobj(unpack(res))
end

-- qh_resolve_rating: closes a bad rating's follow-up with the manager's note; a[1] is the
-- ticket (an id, or today's number), a[2] the note, a[3] the manager.
function ratings.qh_resolve_rating(a)
  local ref, note, by = a[1] or '', a[2] or '', a[3] or ''
  if ref == '' then fail('BAD_REQUEST', 'ticket', 'ticket is required') end
  if note == '' or utf8_len(note) > ratings.NOTE_MAX then
    fail('BAD_REQUEST', 'note', 'note must say what was done, in 1 to ' .. ratings.NOTE_MAX ..
      ' characters')
  end
  local id = sitecfg.ticket_id(ref)
  local h = hgetall(k('rating', id))
  if not h then fail('NOT_FOUND', 'ticket', 'ticket ' .. ref .. ' has no rating') end
  if (h.fstate or '') == '' then
    fail('CONFLICT', 'ticket', 'ticket ' .. h.number .. ' was rated ' .. h.score ..
      '; only ratings of 1 or 2 have a follow-up')
  end
  if h.fstate == 'resolved' then
    fail('CONFLICT', 'ticket', 'the follow-up of ticket ' .. h.number .. ' is already resolved')
  end
  hset(k('rating', id), h, {fstate = 'resolved', note = note, by = by, fat = istr(NOW)})
  redis.call('ZREM', k('followups'), id)
  return '{"rating":' .. ratings.entry_json(h) .. '}'
end

-- qh_followups (no-writes): the open follow-ups and how many of them are overdue (due before
-- today, a[1]).
function ratings.qh_followups(a)
  local today = date_arg(a[1], 'today')
  local open = redis.call('ZCARD', k('followups'))
  local overdue = redis.call('ZCOUNT', k('followups'), '-inf', '(' .. today)
  return jobj('open', jint(open), 'overdue', jint(overdue))
end

------------------------------------------------------------------------------------------
-- Appointments (预约; PROTOCOL.md v2, docs/functions.md)
--
-- qserver works out the slots from the hall config and the site's zone and passes each
-- slot's start, end, capacity and check-in window; the library keeps the bookings:
--   P:ap:<code>             hash: service, date, start, end, state, ref, from, until, at, ticket
--   P:apslot:<date>:<sid>   hash: slot start "HH:MM" -> appointments booked there
--   P:apref:<ref>           zset: the ref's booked codes -> checkin_until (its live ones)
--   P:apopen                zset: booked codes -> day number of their date (the day change
--                           marks the earlier days' ones missed, in slices)
-- A booked appointment whose check-in window has passed shows as missed at once; the day
-- change records it so. Figures count on the slot's day (ST_APPT..ST_APPT + 3).
appt.LIVE_PER_REF = 3 -- booked appointments one ref may hold
appt.KEEP_S = 2 * 86400 -- slot counts and ref lists outlive their last check-in by this

-- The appointment of a code, or nil.
function appt.load(code)
  local h = hgetall(k('ap', code))
  if h then h.code = code end
  return h
end

-- The state an appointment shows: booked turns missed once its check-in window has passed.
function appt.state(h)
  if h.state == 'booked' and NOW > tonumber(h['until']) then return 'missed' end
  return h.state
end

-- The Appointment object; ref only for managers (with_ref '1').
function appt.json(h, with_ref)
  local fields = {'code', jstr(h.code), 'service', jstr(h.service), 'date', jstr(h.date),
    'start', jstr(h.start), 'end', jstr(h['end']), 'state', jstr(appt.state(h)),
    'checkin_from', jint(h.from), 'checkin_until', jint(h['until']), 'ticket', jstr(h.ticket)}
  if with_ref == '1' then
    fields[#fields + 1] = 'ref'
    fields[#fields + 1] = jstr(h.ref)
  end
  return '{"appointment":' .. jobj(unpack(fields)) .. '}'
end

-- Loads the appointment a code names, refusing a missing one.
function appt.find(code)
  if code == nil or code == '' then fail('BAD_REQUEST', 'code', 'code is required') end
  local h = appt.load(code)
  if not h then fail('NOT_FOUND', 'code', 'no appointment has code ' .. code) end
  return h
end

-- Loads the booked appointment a code names, refusing one in any other state.
function appt.find_booked(code)
  local h = appt.find(code)
  local state = appt.state(h)
  if state ~= 'booked' then
    fail('CONFLICT', 'code', 'appointment ' .. h.code .. ' is ' .. state .. ', not booked')
  end
  return h
end

-- Counts a change of an appointment's figures (ST_APPT + offset) on its slot's day and hour.
function appt.count(h, offset)
  stat_record(h.date, string.sub(h.start, 1, 2), h.service, '', '', stat_delta{[ST_APPT + offset] = 1})
end

-- Settles a booked appointment (checked_in, cancelled or missed): it no longer counts
-- against its ref nor waits for the day change.
function appt.settle(h, state, offset)
  hset(k('ap', h.code), h, {state = state, settled_at = istr(NOW)})
  redis.call('ZREM', k('apref', h.ref), h.code)
  redis.call('ZREM', k('apopen'), h.code)
  appt.count(h, offset)
end

-- qh_slots (no-writes): how many are booked in each slot of a service's day.
function appt.qh_slots(a)
  local sid, date = a[1] or '', a[2] or ''
  date_arg(date, 'date')
  local starts = split(a[3])
  if #starts == 0 then return '{"booked":[]}' end
  local have = redis.call('HMGET', k('apslot', date, sid), unpack(starts))
  local out = {}
  for i = 1, #starts do out[i] = jint(tonumber(have[i]) or 0) end
  return '{"booked":' .. jarr(out) .. '}'
end

-- qh_book: books a place in a slot for a ref (qserver checked the slot against the config).
function appt.qh_book(a)
  local sid, date, start, stop = a[1] or '', a[2] or '', a[3] or '', a[4] or ''
  local capacity = int_arg(a[5] or '', 'per_slot', 1, 100000)
  local from, till = int_arg(a[6] or '', 'checkin_from', 0), int_arg(a[7] or '', 'checkin_until', 0)
  local ref, code = a[8] or '', a[9] or ''
  local n = date_arg(date, 'date')
  if not service(sid) then fail('NOT_FOUND', 'service', 'service ' .. sid .. ' does not exist') end
  if not start:match('^%d%d:%d%d$') or not stop:match('^%d%d:%d%d$') then
    fail('BAD_REQUEST', 'start', 'start must be a time HH:MM')
  end
  if ref == '' or utf8_len(ref) > REF_MAX then
    fail('BAD_REQUEST', 'ref', 'ref is required, at most ' .. REF_MAX .. ' characters')
  end
  if not code:match('^[%w]+$') then fail('BAD_REQUEST', 'code', 'code must be letters and digits') end
  if redis.call('EXISTS', k('ap', code)) == 1 then fail('CONFLICT', 'code', 'the code is in use; try again') end
  local slot = k('apslot', date, sid)
  if (tonumber(redis.call('HGET', slot, start)) or 0) >= capacity then
    fail('CONFLICT', 'start', 'the slot ' .. date .. ' ' .. start .. ' is full')
  end
  if redis.call('ZCOUNT', k('apref', ref), istr(NOW), '+inf') >= appt.LIVE_PER_REF then
    fail('CONFLICT', 'ref', 'this phone or reference already holds ' .. appt.LIVE_PER_REF ..
      ' appointments; cancel one first')
  end

  local h = {code = code}
  hset(k('ap', code), h, {service = sid, date = date, start = start, ['end'] = stop,
    state = 'booked', ref = ref, from = istr(from), ['until'] = istr(till), at = istr(NOW), ticket = ''})
  local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
  redis.call('EXPIRE', k('ap', code), math.max(till - NOW, 0) + days * 86400)
  redis.call('HINCRBY', slot, start, 1)
  redis.call('EXPIRE', slot, math.max(till - NOW, 0) + appt.KEEP_S)
  redis.call('ZADD', k('apref', ref), istr(till), code)
  local ttl = redis.call('TTL', k('apref', ref))
  redis.call('EXPIRE', k('apref', ref), math.max(till - NOW + appt.KEEP_S, ttl))
  redis.call('ZADD', k('apopen'), istr(n), code)
  appt.count(h, 0)
  return appt.json(h, a[10])
end

-- qh_appointment (no-writes): an appointment by its code.
function appt.qh_appointment(a)
  return appt.json(appt.find(a[1]), a[2])
end

-- qh_cancel_appointment: gives a booked appointment's place back.
function appt.qh_cancel_appointment(a)
  local h = appt.find_booked(a[1])
  redis.call('HINCRBY', k('apslot', h.date, h.service), h.start, -1)
  appt.settle(h, 'cancelled', 3)
  return appt.json(h, a[2])
end

-- qh_checkin: a booked appointment within its check-in window becomes an appointment-class
-- ticket of its service (a[2] is the ticket's secret, as for qh_take).
function appt.qh_checkin(a)
  local h = appt.find_booked(a[1])
  if NOW < tonumber(h.from) then
    fail('CONFLICT', 'code', 'check-in for appointment ' .. h.code .. ' has not opened yet')
  end
  if not service(h.service) then
    fail('NOT_FOUND', 'service', 'service ' .. h.service .. ' is no longer offered')
  end
  -- a take of class appointment, its ref the code
  local res, t = qh_take({h.service, 'appointment', 'kiosk', h.code, a[2] or ''})
  hset(k('ap', h.code), h, {ticket = t.id})
  appt.settle(h, 'checked_in', 1)
  return res
end

-- The day change's part for appointments: at most DAY_SLICE booked ones of earlier days
-- become missed. Returns how many did and how many are left.
function appt.miss_slice()
  local today = date_number(DAY)
  local codes = redis.call('ZRANGE', k('apopen'), '-inf', '(' .. istr(today), 'BYSCORE', 'LIMIT', 0, DAY_SLICE)
  local missed = 0
  for _, code in ipairs(codes) do
    local h = appt.load(code)
    if h and h.state == 'booked' then
      appt.settle(h, 'missed', 2)
      missed = missed + 1
    else
      redis.call('ZREM', k('apopen'), code) -- expired or settled: just drop it
    end
  end
  return missed, redis.call('ZCOUNT', k('apopen'), '-inf', '(' .. istr(today))
end

------------------------------------------------------------------------------------------
-- The wait model's inputs (docs/estimated-wait.md)
--
-- Results and events record the model's inputs instead of the figures for a waiting ticket
-- and for a service's queue event: qserver's estimate.c works out ahead, ewt, ewt_low and
-- ewt_high from them in C, for the answer and whenever the events are read again (the
-- arithmetic is the model's functions above, in the same order), so the model no longer runs
-- in Lua for them. The service lists and the queue events of a call about more than 8
-- services (figures read in bulk) are still worked out here: recording every service's
-- inputs costs the function more than the model does.

-- A learnt time as P:ewma holds it, or before one is learnt the service's configured time.
function model.time_text(v, id)
  if v and v ~= '' then return v end
  local s = service(id)
  return tostring(s and tonumber(s.service_time) or DEFAULT_SERVICE_TIME)
end

-- The field of P:ewma holding the learnt times of a service's competing set pre-joined
-- (model.join_learnt): "~L:*" in a hall with a comprehensive window, where every service has
-- the same set (all of them, or none in a hall of many), else "~L:<service>" (its peers).
function model.set_field(sid)
  if hall_is_comprehensive() then return '~L:*' end
  return '~L:' .. sid
end

-- The field of P:ewma holding the stream id of the entry that recorded a set's joined learnt
-- times (the set's field "~L:..." as "~R:...").
function model.ref_field(field)
  -- kept across calls, as a set's field is asked for by every estimate
  local known = memo_table(model, 'REF_FIELD')
  local ref = known[field]
  if not ref then
    ref = '~R:' .. string.sub(field, 4)
    memo_store(model, 'REF_FIELD', field, ref)
  end
  return ref
end

-- Notes that a competing set's joined learnt times are new in this call (joined or learnt
-- here): no recorded entry holds them yet, and the call keeps them at its end (keep_joined).
function model.joined_changed(field, joined)
  local learnt = memo_table(cache, 'ewma')
  learnt[field], learnt[model.ref_field(field)] = joined, false
  if model.writes and not model.dirty[field] then
    model.dirty[field] = true
    model.dirty[#model.dirty + 1] = field
  end
end

-- The inputs as an event records them: the joined learnt times at their end replaced by
-- "@<stream id>", the entry that recorded them, or "@" when this entry does (an "L" line
-- before this event: "L,<set>,<joined>", written here when no entry holds them yet). So a
-- ticket life records the hall's learnt times once per change instead of in every event.
function model.event_inputs(inputs, sid)
  local name, joined = model.name_joined(inputs, sid)
  if not name then return inputs end
  return string.sub(inputs, 1, #inputs - #joined) .. name
end

-- What the event of inputs (model.inputs of the service sid) records instead of their joined
-- learnt times, "@<id>" or "@" (model.event_inputs), and those joined times; nil for inputs
-- without them (a pinned ticket's).
function model.name_joined(inputs, sid)
  if string.sub(inputs, 1, 1) ~= 'n' then return nil end
  local field, learnt = model.set_field(sid), memo_table(cache, 'ewma')
  local known = counts.inputs and counts.inputs[sid]
  local joined
  if known and known[2] == inputs then
    joined = known[3]
  else
    joined = select(2, string.match(inputs, '^(n[^|]*|[^|]*|[^|]*|[^|]*|)(.*)$'))
  end
  if model.lined[field] == joined then return '@', joined end
  local ref = learnt[model.ref_field(field)]
  if ref and learnt[field] == joined then return '@' .. ref, joined end
  emit(text_line({'L', string.sub(field, 4), joined}))
  model.lined[field] = joined
  if not model.dirty[field] then
    model.dirty[field] = true
    model.dirty[#model.dirty + 1] = field
  end
  return '@', joined
end

-- At the end of a writing call, with the id of its entry (nil when it recorded none): keeps
-- the competing sets' joined learnt times it made, each with the id of the entry that recorded
-- them, or without one when its entry does not hold them (the next event records them).
function model.keep_joined(id)
  local dirty = model.dirty
  if not dirty or #dirty == 0 then return end
  -- the learnt times themselves (learn_service_time) in the same HSET
  local learnt, set, drop = memo_table(cache, 'ewma'), model.learnt_writes or {}, {}
  for _, field in ipairs(dirty) do
    local joined = learnt[field]
    if joined then
      set[#set + 1], set[#set + 2] = field, joined
      if id and model.lined[field] == joined then
        set[#set + 1], set[#set + 2] = model.ref_field(field), id
      else
        drop[#drop + 1] = model.ref_field(field)
      end
    end
  end
  if #set > 0 then redis.call('HSET', k('ewma'), unpack(set)) end
  if #drop > 0 then redis.call('HDEL', k('ewma'), unpack(drop)) end
end

-- Records the moment from which events name only learnt times recorded after it (setup and the
-- day change drop every set's recorded id): a stream id, scored by its ms, that no entry before
-- it reaches. Real time, unless the stream's last entry is ahead of the clock (XADD ids never go
-- back): then just after that entry, or trimming to the mark would keep an entry before it and
-- drop one it names.
function model.mark()
  local t = real_time()
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local mark = istr(ms) .. '-0'
  local last = redis.call('XREVRANGE', k('events'), '+', '-', 'COUNT', '1')[1]
  local last_ms, last_seq = string.match(last and last[1] or '', '^(%d+)-(%d+)$')
  if last_ms and tonumber(last_ms) >= ms then
    ms, mark = tonumber(last_ms), last_ms .. '-' .. istr(tonumber(last_seq) + 1)
  end
  redis.call('ZADD', k('marks'), istr(ms), mark)
end

-- Where the stream may be trimmed to keep the retention (minid) without dropping an entry a
-- kept one names: the latest mark at or before minid, as every entry after a mark names only
-- entries after it (none: minid, as no entry was recorded with names before the first mark).
-- Marks before it are no longer needed. A mark is a stream id (earlier ones only its ms).
function model.trim_bound(minid_ms)
  local mark = redis.call('ZREVRANGEBYSCORE', k('marks'), minid_ms, '-inf', 'WITHSCORES', 'LIMIT', '0', '1')
  if not mark[1] then return minid_ms end
  redis.call('ZREMRANGEBYSCORE', k('marks'), '-inf', '(' .. mark[2])
  return mark[1]
end

-- The learnt times of the services sids as "<hall mix>|<t1>;<t2>;...", each as P:ewma holds it
-- or the configured time (model.time_text), from what this call read of P:ewma.
function model.join_learnt(sids)
  local learnt = memo_table(cache, 'ewma')
  local times = {}
  for i, id in ipairs(sids) do times[i] = model.time_text(learnt[id] or nil, id) end
  return (learnt['*'] or '') .. '|' .. table.concat(times, ';')
end

-- The own time's reference "#<i>" of the inputs, kept across calls (a number joined into a
-- string is formatted by sprintf).
function model.own_text(i)
  local known = memo_table(model, 'OWN_TEXT')
  local text = known[i]
  if not text then
    text = '#' .. i
    memo_store(model, 'OWN_TEXT', i, text)
  end
  return text
end

-- The position of sid among the competing services sids, or nil.
function model.own_index(sid, sids)
  for i = 1, #sids do
    if sids[i] == sid then return i end
  end
  return nil
end

-- Drops every competing set's joined learnt times (model.set_field) and the ids of the entries
-- that recorded them (model.ref_field): at setup, where the sets, the services and their
-- configured times may change, and at the day change, so that no entry names one recorded
-- before the last day change or setup (model.trim_bound).
function model.drop_joined()
  local fields = {}
  for _, f in ipairs(redis.call('HKEYS', k('ewma'))) do
    local head = string.sub(f, 1, 3)
    if head == '~L:' or head == '~R:' then fields[#fields + 1] = f end
  end
  -- at most 1,000 a command (unpack has a limit)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', k('ewma'), unpack(fields, i, math.min(i + 999, #fields)))
  end
  -- and what this call joined before (a day change run by a setup joins the sets of the windows
  -- as they were): else keep_joined would write it back at the call's end, and a later event
  -- would name the set's times of before the setup, recorded for another set
  local learnt = memo_table(cache, 'ewma')
  for f in pairs(learnt) do
    local head = string.sub(f, 1, 3)
    if head == '~L:' or head == '~R:' then learnt[f] = nil end
  end
  counts.inputs = nil
end

-- The inputs of the estimates of a service's tickets, as estimate.c reads them:
-- "n<comprehensive> <idle> <open>|<class shares>|<own time>|<waiting>;...|<hall mix>|<time>;..."
-- with the waiting tickets and the learnt time of each competing service
-- (model.competing_services) in two lists of the same order, and the own time as "#<i>", the
-- i-th of them, when the service is among them. The last two parts are P:ewma's pre-joined
-- field of the competing set (model.set_field), which a learnt time's change writes again
-- (learn_service_time): so the inputs cost one HMGET of P:ewma for two values (three with an
-- own time apart), not one value per competing service, and one of P:waiting; none for what
-- this call read already.
function model.inputs(sid)
  -- worked out once per service between writes (gen moves with every write and learnt time)
  local m = memo_table(counts, 'inputs')
  local known_inputs = m[sid]
  if known_inputs and known_inputs[1] == gen then return known_inputs[2] end
  local sids = model.competing_services(sid)
  local learnt, known = memo_table(cache, 'ewma'), memo_table(counts, 'waiting')
  local field, own = model.set_field(sid), model.own_index(sid, sids)
  if learnt[field] == nil or learnt[EST.CLASS_SHARES] == nil or (not own and learnt[sid] == nil) then
    local ref = model.ref_field(field)
    model.prefetch_ewma(own and {EST.CLASS_SHARES, field, ref} or {EST.CLASS_SHARES, field, ref, sid})
  end
  local joined = learnt[field]
  if not joined then
    -- not joined since qh_setup or the day change: joined now, kept when this call writes
    model.prefetch_ewma({'*', unpack(sids)})
    joined = model.join_learnt(sids)
    model.joined_changed(field, joined)
  end
  -- (numeric loops: ipairs costs a call of a C function per item)
  local n, waiting = #sids, {}
  if known[sid] == nil and n > 0 then
    local vals = redis.call('HMGET', k('waiting'), unpack(sids))
    for i = 1, n do
      local v = vals[i]
      known[sids[i]], waiting[i] = v, v or ''
    end
  else
    local missing = {}
    for i = 1, n do
      if known[sids[i]] == nil then missing[#missing + 1] = sids[i] end
    end
    if #missing > 0 then
      local vals = redis.call('HMGET', k('waiting'), unpack(missing))
      for i = 1, #missing do known[missing[i]] = vals[i] end
    end
    for i = 1, n do waiting[i] = known[sids[i]] or '' end
  end
  -- the window counts as the text of their sums (model.windows_serving's figures, read here as
  -- P:nopen holds them: most sums have one term)
  local r = model.window_counts(sid)
  local inputs = 'n' .. (hall_is_comprehensive() and '1 ' or '0 ') .. model.count_text(r[3], r[4]) ..
    ' ' .. model.count_text(r[1], r[2]) .. '|' .. (learnt[EST.CLASS_SHARES] or '') .. '|' ..
    (own and model.own_text(own) or model.time_text(learnt[sid] or nil, sid)) .. '|' ..
    table.concat(waiting, ';') .. '|' .. joined
  m[sid] = {gen, inputs, joined}
  return inputs
end

-- The inputs of model.inputs in the form of earlier versions, which a qserver of an earlier
-- version reads: "m<comprehensive> <idle> <open>|<hall mix>|<class shares>|<own time>|
-- <waiting>=<time>;...".
function model.old_form(s)
  local head, shares, own, waits, mix, times = string.match(s, '^n([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if not head then return s end
  local w, entries = {}, {}
  for v in string.gmatch(waits .. ';', '([^;]*);') do w[#w + 1] = v end
  for t in string.gmatch(times, '[^;]+') do entries[#entries + 1] = (w[#entries + 1] or '') .. '=' .. t end
  local i = tonumber(string.match(own, '^#(%d+)$') or '')
  if i then own = string.match(entries[i] or '', '=(.*)$') or '' end
  return 'm' .. head .. '|' .. mix .. '|' .. shares .. '|' .. own .. '|' .. table.concat(entries, ';')
end

-- ahead and the model's inputs of a ticket pinned to a window: it competes for that one window
-- (n = 1, idle when the window is) with everything the window calls, the tickets ahead at its
-- own service's time, and no class jumps ahead of it (no class shares).
function model.pinned_inputs(t)
  local w = window(t.pin)
  local ahead = count_ahead(w and window_bases(w) or {'w' .. t.pin}, t.class, t.score)
  model.prefetch_ewma({t.service})
  return istr(ahead), 'm0 ' .. ((w and w.state == 'idle') and '1' or '0') .. ' 1|||' ..
    model.time_text(memo_table(cache, 'ewma')[t.service], t.service) .. '|'
end

-- A queue event with the model's inputs of a new ticket of the service: ["q", service,
-- waiting, inputs, hall ahead], the inputs "^" when they are those of the ticket event before
-- in this call, hall ahead every waiting ticket of a hall with a comprehensive window ("" in
-- others: qserver adds up the competing services').
function model.emit_queue_inputs(sid)
  local inputs = model.inputs(sid)
  if model.last_events == events and model.last_inputs == inputs then inputs = '^' end
  local bases = service_bases(sid)
  local hall = bases[1] == '*' and istr(count_ahead(bases, 'normal', nil)) or ''
  -- the waiting count as P:waiting holds it (HINCRBY's integers), not parsed and written again
  if inputs ~= '^' then inputs = model.event_inputs(inputs, sid) end
  -- text_line's form made directly: no value holds a ',', newline or backslash, and only the
  -- hall ahead may be "" (the inputs never are)
  local line = 'q,' .. sid .. ',' .. (figure('waiting', sid) or '0') .. ',' .. inputs
  emit(hall ~= '' and line .. ',' .. hall or line)
end

------------------------------------------------------------------------------------------
-- Packed tickets (docs/keys.md "Tickets")
--
-- A ticket that reaches a final state (settle) leaves its own hash P:t:<id> for one field of
-- a shared hash, its bucket P:tp:<id but its last two characters>, field those two ("20261128-
-- A012": P:tp:20261128-A0, field 12): a bucket holds at most 100 tickets of one issue day, a
-- small listpack, where each ticket's own key, object, expiry entry and table buckets cost
-- about 120 bytes before any field. The value is cmsgpack.pack of an array: the form's version,
-- then the fields of FIELDS in order, "" for none, trailing ones left out; what the id tells
-- (number, day, and fday when it is the issue day: true) and the queue score are not kept, the
-- times after issue are seconds after issued_at, numbers that read back the same are integers;
-- any other field follows as a map. A value too long for a listpack (a long ref) makes its
-- bucket a hash table, which works the same.

sitecfg.packed = {} -- its functions and constants (the main chunk is at its locals' limit)
sitecfg.packed.VERSION = 1
sitecfg.packed.FIELDS = {'service', 'state', 'issued_at', 'called_at', 'started_at', 'finished_at',
  'window', 'clerk', 'rating', 'fday', 'fhour', 'secret', 'recalls', 'transfers', 'wait_from',
  'class', 'channel', 'ref', 'pin', 'closed_by_day', 'notify_ahead', 'notify_ewt', 'notify_ref',
  'notified_near', 'notified_called'}
sitecfg.packed.RELATIVE = {called_at = true, started_at = true, finished_at = true, wait_from = true}
-- kept as text as they are (any other field is a number when it reads back the same: a phone
-- ref of 11 digits 9 bytes instead of 12)
sitecfg.packed.TEXT = {service = true, state = true, clerk = true, fhour = true, secret = true,
  class = true, channel = true}
-- not kept: told by the id, or of no use once settled (the queue score)
sitecfg.packed.LEFT_OUT = {id = true, number = true, day = true, score = true, packed = true}
-- values ticket_defaults fills in, so kept as ""
sitecfg.packed.DEFAULTS = {class = 'normal', channel = 'kiosk', recalls = '0', transfers = '0'}
sitecfg.packed.buf = {} -- the array a write packs (write)

-- The bucket key and field of a ticket id.
function sitecfg.packed.place(id)
  return k('tp', string.sub(id, 1, #id - 2)), string.sub(id, -2)
end

-- A field's value as packed: an integer when it reads back as the same text (less the issue
-- time `base` when given), else the text.
function sitecfg.packed.value(v, base)
  -- digits without a leading zero, short enough to be exact in a double: reads back the same
  if #v < 16 and (v == '0' or string.find(v, '^%-?[1-9]%d*$')) then
    local n = tonumber(v)
    return base and n - base or n
  end
  return v
end

-- Writes ticket t's packed value into its bucket.
function sitecfg.packed.write(t)
  local pk = sitecfg.packed
  local issued = pk.value(t.issued_at or '')
  if type(issued) ~= 'number' then issued = nil end
  -- one table kept for every write: each table made costs the garbage collector's work
  local out, fields = pk.buf, pk.FIELDS
  out[1] = pk.VERSION
  -- a numeric loop: ipairs costs a call of its iterator for each of the fields
  for i = 1, #fields do
    local f = fields[i]
    local v = t[f]
    if v == nil or v == '' or pk.DEFAULTS[f] == v then
      v = ''
    elseif f == 'secret' then
      v = pk.secret_packed(v)
    elseif f == 'fday' then
      local _, day = sitecfg.id_parts(t.id)
      if v == day then v = true end
    elseif not pk.TEXT[f] then
      v = pk.value(v, pk.RELATIVE[f] and issued)
    end
    out[i + 1] = v
  end
  -- the set of FIELDS, made at the first write (loading the library may not call ipairs)
  if not pk.KNOWN then
    pk.KNOWN = {}
    for _, f in ipairs(pk.FIELDS) do pk.KNOWN[f] = true end
  end
  local extra
  for f, v in pairs(t) do
    if not pk.KNOWN[f] and not pk.LEFT_OUT[f] and v ~= '' then
      extra = extra or {}
      extra[f] = v
    end
  end
  local n = #pk.FIELDS + 1
  out[n + 1] = extra
  while not extra and n > 1 and out[n] == '' do
    out[n] = nil
    n = n - 1
  end
  local key, field = pk.place(t.id)
  redis.call('HSET', key, field, cmsgpack.pack(out))
end

-- The base64url digits of a secret (made on first use: loading the library may not loop).
function sitecfg.packed.digits()
  local pk = sitecfg.packed
  if not pk.DIGIT then
    local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    pk.DIGIT, pk.CHAR = {}, {}
    for i = 1, 64 do
      pk.DIGIT[string.byte(alphabet, i)] = i - 1
      pk.CHAR[i - 1] = string.sub(alphabet, i, i)
    end
  end
  return pk.DIGIT, pk.CHAR
end

-- A secret as packed: qserver's (16 base64url characters, 12 random bytes) as those 12 bytes,
-- 4 fewer; any other as its text, in an array of one when it is 12 long (so never read as bytes).
function sitecfg.packed.secret_packed(s)
  if #s ~= 16 or not string.find(s, '^[A-Za-z0-9_%-]+$') then
    return #s == 12 and {s} or s
  end
  local digit = sitecfg.packed.digits()
  local out = ''
  for i = 1, 16, 4 do
    local a, b, c, d = string.byte(s, i, i + 3)
    local n = ((digit[a] * 64 + digit[b]) * 64 + digit[c]) * 64 + digit[d]
    out = out .. string.char(math.floor(n / 65536), math.floor(n / 256) % 256, n % 256)
  end
  return out
end

-- A secret from its packed form (secret_packed): 12 bytes are qserver's 16 characters.
function sitecfg.packed.secret_read(v)
  if type(v) == 'table' then return v[1] end
  if #v ~= 12 then return v end
  local _, char = sitecfg.packed.digits()
  local out = ''
  for i = 1, 12, 3 do
    local a, b, c = string.byte(v, i, i + 2)
    local n = (a * 256 + b) * 256 + c
    out = out .. char[math.floor(n / 262144)] .. char[math.floor(n / 4096) % 64] ..
      char[math.floor(n / 64) % 64] .. char[n % 64]
  end
  return out
end

-- Ticket id's fields from its packed value (nil when it has none), as its own hash would
-- hold them (ticket_defaults fills in the rest), marked `packed`.
function sitecfg.packed.read(id)
  local pk = sitecfg.packed
  local key, field = pk.place(id)
  local s = redis.call('HGET', key, field)
  if not s then return nil end
  local a = cmsgpack.unpack(s)
  local t = {packed = true}
  local issued = type(a[4]) == 'number' and a[4] or nil
  for i, f in ipairs(pk.FIELDS) do
    local v = a[i + 1]
    if v == true then
      local _, day = sitecfg.id_parts(id)
      t[f] = day
    elseif f == 'secret' and v ~= nil and v ~= '' then
      t[f] = pk.secret_read(v)
    elseif type(v) == 'number' then
      t[f] = istr(pk.RELATIVE[f] and issued and issued + v or v)
    elseif v ~= nil and v ~= '' then
      t[f] = v
    end
  end
  local extra = a[#pk.FIELDS + 2]
  if extra then
    for f, v in pairs(extra) do t[f] = v end
  end
  return t
end

-- Settles ticket t (its final fields set) into its bucket: its own hash goes. The bucket
-- expires at the end of the issue day + retention_days + 1 day (counted on the library's
-- clock, as every time is), so it outlives the last ticket of its day, settled by the day
-- change after it; or retention_days after this settle when that is later (a day change run
-- days late). That expiry is set when a settle finds the bucket without one (its first ticket),
-- with less than retention_days left (a day change run days late, the retention raised) or
-- more than retention_days + 2 days left (the retention lowered): otherwise it is right
-- within the 2 days a ticket settled on its issue day may be kept beyond its retention.
function sitecfg.packed.settle(t)
  local pk = sitecfg.packed
  pk.write(t)
  t.packed = true
  redis.call('DEL', k('t', t.id))
  -- the day's end is worked out only for an expiry set again (the site's zone read)
  local key = pk.place(t.id)
  local days = tonumber(cfg().retention_days or '') or DEFAULT_RETENTION_DAYS
  local ttl = redis.call('TTL', key)
  if ttl >= days * 86400 and ttl <= (days + 2) * 86400 then return end
  local _, day = sitecfg.id_parts(t.id)
  local y, m, d = string.match(day or DAY, '^(%d+)-(%d+)-(%d+)$')
  local ends = ratings.day_start(days_from_civil(tonumber(y), tonumber(m), tonumber(d)) + 1)
  redis.call('EXPIRE', key, istr(math.max(ends + (days + 1) * 86400 - NOW, days * 86400)))
end

------------------------------------------------------------------------------------------
-- Entry lines of kinds of their own (docs/functions.md "Events")
--
-- An entry's ticket, call and window lines leave out what the ticket's line before them tells,
-- each under a kind the version before does not know: "U" (a ticket, its state as a one-letter
-- code), "C" (a call) and "W" (a window after its ticket). That version drops an entry holding
-- a kind it does not know, whole, rather than misreading it (docs/operations.md "Upgrading").
-- Results keep "T" and "w", which it reads, and so does a waiting ticket's line: a take's entry
-- stays one that version reads, for the 6 bytes of the word.

TEXT.STATE_CODE = {called = 'c', serving = 's', done = 'd', no_show = 'n', cancelled = 'x',
  expired = 'e'}
TEXT.WINDOW_CODE = {idle = 'i', calling = 'c', serving = 's'}

-- A ticket's line in an entry: "U", the short form with the state as its code ("T" for a state
-- without one, waiting): the line of the result, whose values before the state are ids and
-- words with no ',' (text_line). Notes the ticket's values, which the lines after it may name
-- (TEXT.ticket_before).
function TEXT.ticket_line(t)
  local line = ticket_compact(t, true)
  TEXT.last_events, TEXT.last_values = events, tjson.values
  local code = TEXT.STATE_CODE[tjson.values[7]]
  if not code then return line end
  if not tjson.event_line then
    local head, tail = string.match(line, '^T(,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,)[^,]*(.*)$')
    tjson.event_line = head and 'U' .. head .. code .. tail or line
  end
  return tjson.event_line
end

-- The values of the ticket line before in this call's entry (TEXT.ticket_line) when it is the
-- ticket id's (any ticket's for nil), and its issue time; nil when there is none.
function TEXT.ticket_before(id)
  local v = TEXT.last_events == events and TEXT.last_values
  if not v or (id and v[2] ~= id) then return nil end
  return v, tonumber(v[8])
end

-- A time of a ticket line's values (v[i]: seconds after its issue, as qserver reads them), or 0.
function TEXT.line_time(v, i, issued)
  local after = v[i]
  return issued and after and after ~= '' and issued + tonumber(after) or 0
end

-- A call's line: "C", at, recall, window, each "" when the ticket's line tells it (at as seconds
-- after its called_at, the recall its recalls, the window its window), so a first call's line
-- is "C" alone; "c" with all four (id "": that ticket) when no ticket line before tells them.
function TEXT.called_line(t, w, recall)
  local v, issued = TEXT.ticket_before(t.id)
  local called, n = v and TEXT.line_time(v, 9, issued) or 0, tonumber(recall)
  if called == 0 then return text_line({'c', '', w.id, istr(n), istr(NOW)}) end
  local after = NOW - called
  return text_line({'C', after ~= 0 and istr(after) or '', n ~= (tonumber(v[14]) or 0) and istr(n) or '',
    w.id ~= (v[12] or '') and w.id or ''})
end

-- A window's line in an entry: "W", its state's code, id, since and clerk, each "" when the
-- ticket's line before it tells it (its window, its latest time, its clerk), and the ticket
-- number left out (the ticket's while calling or serving, none while idle): a call's, start's
-- or finish's window line is "W,c", "W,s" or "W,i". Any other window is "w" in full.
function TEXT.window_line(w)
  local v, issued = TEXT.ticket_before()
  local code, number, since, clerk = TEXT.WINDOW_CODE[w.state], w.number or '', w.since or '', w.clerk or ''
  local tk_clerk = v and v[13] or ''
  if not (v and code and since ~= '' and (clerk == tk_clerk or clerk ~= '')) then return window_compact(w, true) end
  if code == 'i' and number ~= '' then return window_compact(w, true) end
  -- the ticket's number: its own, or "" for the id's part after the '-'
  if code ~= 'i' and (number == '' or number ~= (v[3] ~= '' and v[3] or string.match(v[2], '^[^-]*%-(.*)$'))) then
    return window_compact(w, true)
  end
  local latest = math.max(TEXT.line_time(v, 9, issued), TEXT.line_time(v, 10, issued), TEXT.line_time(v, 11, issued))
  return text_line({'W', code, w.id ~= (v[12] or '') and w.id or '',
    (latest == 0 or since ~= istr(latest)) and since or '', clerk ~= tk_clerk and clerk or ''})
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
    -- NOW's text as given when tostring(NOW) would give it back (a first digit of 1-9, so no
    -- sign or leading zero: "-00" reads as -0; at most 14 digits: '%.14g'), so TEXT.now()
    -- formats nothing
    local lead = string.byte(args[1])
    if #args[1] <= 14 and lead >= 49 and lead <= 57 then cache.now_text = args[1] end
    -- the day, or the day and NOW's site-local hour ("YYYY-MM-DDTHH", as qserver sends it)
    -- (read once for as long as it stays the same: it changes once an hour)
    local day, hour
    if args[2] ~= nil and args[2] == TEXT.day_arg then
      day, hour = TEXT.day_read, TEXT.hour_read
    else
      day, hour = string.match(args[2] or '', '^(%d%d%d%d%-%d%d%-%d%d)T([0-2]%d)$')
      if not day then day = string.match(args[2] or '', '^%d%d%d%d%-%d%d%-%d%d$') end
      if not day or (hour and hour > '23') then
        fail('BAD_REQUEST', 'day', 'day must be YYYY-MM-DD or YYYY-MM-DDTHH')
      end
      TEXT.day_arg, TEXT.day_read, TEXT.hour_read = args[2], day, hour
    end
    if hour then hours_seen[NOW] = hour end
    -- qserver sends the hour (for years 1990-2099); one that does not is of an earlier version
    -- and reads only the JSON forms of results (docs/operations.md, "Upgrading")
    sitecfg.json_results = hour == nil
    DAY = day
    EXPIRED = 0
    SLICED = false
    local state = redis.call('MGET', k('day'), k('drain'))
    local stored = state[1]
    DRAIN = state[2] and tonumber(state[2]) or nil
    if writes then
      check_deadline(args[3])
      EXPIRED = change_day(day, stored)
    elseif stored and stored > day then
      DAY = stored
    end
    local a = {unpack(args, 4)}
    local res = body(a)
    if writes then notify.after_call() end
    return res
  end
  redis.register_function{
    function_name = name,
    callback = function(keys, args)
      cache, counts, gen, tjson, events = {}, {}, 0, nil, {}
      model.writes = writes -- a call that writes keeps what it joined (model.inputs)
      model.dirty, model.lined, model.learnt_writes = {}, {}, nil
      hours_seen, stats_pending = {}, {}
      local ok, res = pcall(run, keys, args)
      -- even a refused call may have run the day change, whose figures and events are
      -- committed too
      if writes then
        stat_flush()
        publish_events()
      end
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
register('qh_stats', qh_stats, false)

-- Notifications
register('qh_notify', notify.qh_notify, true)
register('qh_notify_claim', notify.qh_claim, true)
register('qh_notify_settle', notify.qh_settle, true)
register('qh_ratings', ratings.qh_ratings, false)
register('qh_resolve_rating', ratings.qh_resolve_rating, true)
register('qh_followups', ratings.qh_followups, false)
register('qh_slots', appt.qh_slots, false)
register('qh_book', appt.qh_book, true)
register('qh_appointment', appt.qh_appointment, false)
register('qh_cancel_appointment', appt.qh_cancel_appointment, true)
register('qh_checkin', appt.qh_checkin, true)
