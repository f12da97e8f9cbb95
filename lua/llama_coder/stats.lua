-- How well the model serves you, per server and model: suggestions shown, accepted
-- (whole, by word, by line), dismissed or typed over, time to ghost, server timings,
-- cache hits and errors. Counted where the facts are (the suggestion's owner tells what
-- was shown and what became of it; each result carries the engine's timings), at the
-- moment a suggestion is shown or left, never per keystroke. This session's numbers
-- live here; with stats.persist they are added to the totals of earlier sessions in a
-- small JSON file under stdpath('state') when Neovim quits (numbers and server names
-- only, never code or prompts).
local M = {}

-- Time to ghost, in ms: histogram bucket upper bounds (the last bucket is open).
M.BUCKETS = { 50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000 }
local MAX_SERVERS = 50 -- servers kept in the file; the least recently used go first
local VERSION = 1

---@class LlamaCoderServerStats
---@field shown integer suggestions shown
---@field accepted integer suggestions of which something was accepted
---@field accept_whole integer
---@field accept_word integer
---@field accept_line integer
---@field dismissed integer
---@field typed_over integer
---@field chars_shown integer
---@field chars_accepted integer
---@field ghost integer[] time-to-ghost histogram (counts per bucket, #BUCKETS + 1)
---@field first_chunk_ms number sum over requests that report it
---@field first_chunk_n integer
---@field predicted_tokens integer
---@field predicted_ms number
---@field prompt_tokens integer
---@field cached_tokens integer
---@field cache_hits integer suggestions from the plugin's own cache
---@field prefetch_hits integer of those, ones a prefetch had asked for
---@field errors table<string, integer> by kind
---@field last_used integer os.time() of the last count

---@return LlamaCoderServerStats
function M.empty()
  local ghost = {}
  for i = 1, #M.BUCKETS + 1 do
    ghost[i] = 0
  end
  return {
    shown = 0, accepted = 0, accept_whole = 0, accept_word = 0, accept_line = 0,
    dismissed = 0, typed_over = 0, chars_shown = 0, chars_accepted = 0, ghost = ghost,
    first_chunk_ms = 0, first_chunk_n = 0, predicted_tokens = 0, predicted_ms = 0,
    prompt_tokens = 0, cached_tokens = 0, cache_hits = 0, prefetch_hits = 0, errors = {},
    last_used = 0,
  }
end

---@type table<string, LlamaCoderServerStats> this session, by server label
M.session = {}

---@param server string|nil
---@return LlamaCoderServerStats
local function entry(server)
  server = (server and server ~= '') and server or 'unknown'
  local e = M.session[server]
  if not e then
    e = M.empty()
    M.session[server] = e
  end
  e.last_used = os.time()
  return e
end

---@param ms number
---@return integer bucket index
function M.bucket(ms)
  for i, bound in ipairs(M.BUCKETS) do
    if ms <= bound then
      return i
    end
  end
  return #M.BUCKETS + 1
end

--- The characters of a suggestion that was shown (counted once it is complete, or
--- left before it was).
---@param server string|nil
---@param text string
function M.chars_shown(server, text)
  local e = entry(server)
  e.chars_shown = e.chars_shown + vim.fn.strchars(text)
end

--- A suggestion was shown (its first line, or all of it), ``ms`` after the key it
--- answers.
---@param server string|nil
---@param ms number|nil time to ghost
function M.shown(server, ms)
  local e = entry(server)
  e.shown = e.shown + 1
  if ms then
    local b = M.bucket(ms)
    e.ghost[b] = e.ghost[b] + 1
  end
end

--- The engine's numbers for a suggestion that was shown.
---@param server string|nil
---@param s table the result's stats
function M.timings(server, s)
  local e = entry(server)
  if s.cached then
    e.cache_hits = e.cache_hits + 1
    if s.prefetched then
      e.prefetch_hits = e.prefetch_hits + 1
    end
    return
  end
  if type(s.first_chunk_ms) == 'number' then
    e.first_chunk_ms = e.first_chunk_ms + s.first_chunk_ms
    e.first_chunk_n = e.first_chunk_n + 1
  end
  if type(s.predicted_tokens) == 'number' and type(s.predicted_ms) == 'number' then
    e.predicted_tokens = e.predicted_tokens + s.predicted_tokens
    e.predicted_ms = e.predicted_ms + s.predicted_ms
  end
  if type(s.prompt_tokens) == 'number' then
    e.prompt_tokens = e.prompt_tokens + s.prompt_tokens
    e.cached_tokens = e.cached_tokens + (tonumber(s.cached_tokens) or 0)
  end
end

--- Part or all of a suggestion was accepted.
---@param server string|nil
---@param how 'whole'|'word'|'line'
---@param text string what was inserted
---@param first boolean the first accept of this suggestion
function M.accepted(server, how, text, first)
  local e = entry(server)
  e['accept_' .. how] = e['accept_' .. how] + 1
  e.chars_accepted = e.chars_accepted + vim.fn.strchars(text)
  if first then
    e.accepted = e.accepted + 1
  end
end

--- A suggestion went without being accepted.
---@param server string|nil
---@param how 'dismissed'|'typed_over'
function M.left(server, how)
  local e = entry(server)
  e[how] = e[how] + 1
end

---@param server string|nil
---@param kind string
function M.error(server, kind)
  local e = entry(server)
  e.errors[kind] = (e.errors[kind] or 0) + 1
end

--- ``into`` plus ``add``, field by field.
---@param into LlamaCoderServerStats
---@param add LlamaCoderServerStats
---@return LlamaCoderServerStats
function M.add(into, add)
  local out = vim.deepcopy(into)
  for k, v in pairs(add) do
    if k == 'ghost' then
      for i = 1, #M.BUCKETS + 1 do
        out.ghost[i] = (out.ghost[i] or 0) + (v[i] or 0)
      end
    elseif k == 'errors' then
      for kind, n in pairs(v) do
        out.errors[kind] = (out.errors[kind] or 0) + n
      end
    elseif k == 'last_used' then
      out.last_used = math.max(out.last_used or 0, v)
    elseif type(v) == 'number' then
      out[k] = (out[k] or 0) + v
    end
  end
  return out
end

--- The p-th percentile (0..1) of a histogram: the upper bound of its bucket.
---@param ghost integer[]
---@param p number
---@return number|nil ms (math.huge for the open bucket)
function M.percentile(ghost, p)
  local total = 0
  for _, n in ipairs(ghost) do
    total = total + n
  end
  if total == 0 then
    return nil
  end
  local need, seen = p * total, 0
  for i, n in ipairs(ghost) do
    seen = seen + n
    if seen >= need and n > 0 then
      return M.BUCKETS[i] or math.huge
    end
  end
  return math.huge
end

--- Derived numbers for one entry (rates, percentiles, averages).
---@param e LlamaCoderServerStats
---@return table
function M.summary(e)
  local function ratio(a, b)
    return b > 0 and a / b or nil
  end
  return {
    shown = e.shown,
    accepted = e.accepted,
    accept_whole = e.accept_whole,
    accept_word = e.accept_word,
    accept_line = e.accept_line,
    dismissed = e.dismissed,
    typed_over = e.typed_over,
    acceptance = ratio(e.accepted, e.shown),
    chars_acceptance = ratio(e.chars_accepted, e.chars_shown),
    ghost_p50_ms = M.percentile(e.ghost, 0.5),
    ghost_p90_ms = M.percentile(e.ghost, 0.9),
    ghost_histogram = vim.deepcopy(e.ghost),
    first_chunk_ms = ratio(e.first_chunk_ms, e.first_chunk_n),
    tokens_per_second = ratio(e.predicted_tokens * 1000, e.predicted_ms),
    prompt_tokens = e.prompt_tokens,
    prompt_cache_share = ratio(e.cached_tokens, e.prompt_tokens),
    cache_hits = e.cache_hits,
    prefetch_hits = e.prefetch_hits,
    errors = vim.deepcopy(e.errors),
  }
end

-- --- the file of earlier sessions -------------------------------------------------------

---@return string
function M.path()
  return vim.fn.stdpath('state') .. '/llama-coder/stats.json'
end

local reported = false -- one message per session about an unusable file

---@param message string
local function report(message)
  if not reported then
    reported = true
    require('llama_coder.notify').notify(message, 'warn')
  end
end

--- The totals of earlier sessions; nil and a reason when the file is unusable.
---@return table<string, LlamaCoderServerStats>|nil
---@return string|nil
function M.read_file()
  local fd = io.open(M.path(), 'r')
  if not fd then
    return {}, nil -- none yet
  end
  local text = fd:read('*a') or ''
  fd:close()
  local ok, data = pcall(vim.json.decode, text)
  if not ok or type(data) ~= 'table' or data.version ~= VERSION or type(data.servers) ~= 'table' then
    return nil, ('the stats file %s is not readable; it is left as it is'):format(M.path())
  end
  local servers = {}
  for name, e in pairs(data.servers) do
    if type(name) == 'string' and type(e) == 'table' then
      servers[name] = M.add(M.empty(), e)
    end
  end
  return servers, nil
end

--- Run ``fn`` while holding the file's lock (a directory: created by one process at a
--- time). A lock older than 10 s is a leftover and is taken over.
---@param fn fun(): boolean, string|nil
---@return boolean ok
---@return string|nil err
local function locked(fn)
  local lock = M.path() .. '.lock'
  vim.fn.mkdir(vim.fn.fnamemodify(M.path(), ':h'), 'p')
  local deadline = vim.uv.now() + 2000
  while not vim.uv.fs_mkdir(lock, 448) do
    local stat = vim.uv.fs_stat(lock)
    if stat and os.time() - stat.mtime.sec > 10 then
      vim.uv.fs_rmdir(lock)
    elseif vim.uv.now() > deadline then
      return false, 'another Neovim holds ' .. lock
    else
      vim.uv.sleep(10)
    end
  end
  local ok, result, err = pcall(fn)
  vim.uv.fs_rmdir(lock)
  if not ok then
    return false, tostring(result)
  end
  return result, err
end

--- Add this session's numbers to the file (at exit). Kept here when the file cannot be
--- read or written, with one message.
---@return boolean ok
function M.save()
  if vim.tbl_isempty(M.session) then
    return true
  end
  local ok, err = locked(function()
    local servers, problem = M.read_file()
    if not servers then
      return false, problem
    end
    for name, e in pairs(M.session) do
      servers[name] = M.add(servers[name] or M.empty(), e)
    end
    local names = vim.tbl_keys(servers)
    table.sort(names, function(a, b)
      return servers[a].last_used > servers[b].last_used
    end)
    for i = MAX_SERVERS + 1, #names do
      servers[names[i]] = nil
    end
    local tmp = ('%s.%d.tmp'):format(M.path(), vim.fn.getpid())
    local fd = io.open(tmp, 'w')
    if not fd then
      return false, 'cannot write ' .. tmp
    end
    fd:write(vim.json.encode({ version = VERSION, servers = servers }))
    fd:close()
    local renamed, rename_err = os.rename(tmp, M.path())
    if not renamed then
      os.remove(tmp)
      return false, rename_err
    end
    return true, nil
  end)
  if not ok then
    report(('stats not saved: %s'):format(err or 'unknown error'))
    return false
  end
  M.session = {}
  return true
end

--- Forget the totals of earlier sessions (and this session's).
function M.reset()
  M.session = {}
  locked(function()
    os.remove(M.path())
    return true, nil
  end)
end

-- The file as last read, and what identified it then (mtime and size): stats() may be
-- called on every statusline redraw, and the file changes only when a Neovim quits.
local earlier = { stamp = nil, servers = nil, problem = nil }

--- The totals of earlier sessions, read again only when the file changed.
---@return table<string, LlamaCoderServerStats>|nil
---@return string|nil
local function earlier_totals()
  local stat = vim.uv.fs_stat(M.path())
  local stamp = stat and ('%d.%d:%d'):format(stat.mtime.sec, stat.mtime.nsec, stat.size) or 'none'
  if stamp ~= earlier.stamp then
    local servers, problem = M.read_file()
    earlier = { stamp = stamp, servers = servers, problem = problem }
  end
  return earlier.servers, earlier.problem
end

--- This session's numbers and, with stats.persist, the totals with earlier sessions.
---@return table { session = {server = summary}, total = {server = summary}|nil }
function M.get()
  local out = { session = {}, total = nil }
  for name, e in pairs(M.session) do
    out.session[name] = M.summary(e)
  end
  local config = require('llama_coder.config').current()
  if config.stats.persist then
    local read, problem = earlier_totals()
    if read then
      local servers = {} -- M.add copies: what was read stays as it was
      for name, e in pairs(read) do
        servers[name] = e
      end
      for name, e in pairs(M.session) do
        servers[name] = M.add(servers[name] or M.empty(), e)
      end
      out.total = {}
      for name, e in pairs(servers) do
        out.total[name] = M.summary(e)
      end
    elseif problem then
      report(problem)
    end
  end
  return out
end

return M
