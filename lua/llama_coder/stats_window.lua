-- :LlamaCoderStats: a floating window with a table per server and model (this session
-- and, with stats.persist, all sessions) and a histogram of the time to ghost text.
local stats = require('llama_coder.stats')

local M = {}

local BLOCKS = { '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█' }
local BAR_WIDTH = 30

---@param value number|nil
---@return string
local function percent(value)
  return value and ('%.1f %%'):format(value * 100) or '-'
end

---@param value number|nil
---@return string
local function ms(value)
  if value == nil then
    return '-'
  elseif value == math.huge then
    return ('>%d ms'):format(stats.BUCKETS[#stats.BUCKETS])
  end
  return ('%d ms'):format(value)
end

---@param n number|nil
---@return string
local function count(n)
  if n == nil then
    return '-'
  elseif n >= 10000 then
    return ('%.1fk'):format(n / 1000)
  end
  return ('%d'):format(n)
end

--- The rows of one server's table: label, this session, all sessions.
---@param s table|nil summary (this session)
---@param t table|nil summary (all sessions)
---@return string[][]
local function rows(s, t)
  local function both(fn)
    return { s and fn(s) or '-', t and fn(t) or '-' }
  end
  local out = {}
  local function row(label, fn)
    local v = both(fn)
    out[#out + 1] = { label, v[1], v[2] }
  end
  row('shown', function(x)
    return count(x.shown)
  end)
  row('accepted (whole/word/line)', function(x)
    return ('%s (%d/%d/%d)'):format(count(x.accepted), x.accept_whole, x.accept_word, x.accept_line)
  end)
  row('acceptance rate', function(x)
    return percent(x.acceptance)
  end)
  row('characters accepted', function(x)
    return percent(x.chars_acceptance)
  end)
  row('dismissed / typed over', function(x)
    return ('%s / %s'):format(count(x.dismissed), count(x.typed_over))
  end)
  row('time to ghost p50 / p90', function(x)
    return ('%s / %s'):format(ms(x.ghost_p50_ms), ms(x.ghost_p90_ms))
  end)
  row('first chunk (mean)', function(x)
    return x.first_chunk_ms and ms(x.first_chunk_ms) or '-'
  end)
  row('tokens per second', function(x)
    return x.tokens_per_second and ('%.0f'):format(x.tokens_per_second) or '-'
  end)
  row('prompt tokens (KV cache)', function(x)
    return ('%s (%s)'):format(count(x.prompt_tokens), percent(x.prompt_cache_share))
  end)
  row('cache / prefetch hits', function(x)
    return ('%s / %s'):format(count(x.cache_hits), count(x.prefetch_hits))
  end)
  row('errors', function(x)
    local parts = {}
    for kind, n in pairs(x.errors) do
      parts[#parts + 1] = ('%s %d'):format(kind, n)
    end
    table.sort(parts)
    return #parts > 0 and table.concat(parts, ', ') or '0'
  end)
  return out
end

---@param histogram integer[]
---@return string[]
local function histogram_lines(histogram)
  local most = 0
  for _, n in ipairs(histogram) do
    most = math.max(most, n)
  end
  local last = 1 -- rows after the last bucket with a count are left out
  for i, n in ipairs(histogram) do
    if n > 0 then
      last = i
    end
  end
  local lines = {}
  for i = 1, last do
    local n = histogram[i]
    local bound = stats.BUCKETS[i]
    local label = bound and ('<= %5d ms'):format(bound) or ('>  %5d ms'):format(stats.BUCKETS[#stats.BUCKETS])
    local eighths = most > 0 and math.floor(n / most * BAR_WIDTH * 8 + 0.5) or 0
    local bar = string.rep(BLOCKS[8], math.floor(eighths / 8))
    if eighths % 8 > 0 then
      bar = bar .. BLOCKS[eighths % 8]
    end
    lines[#lines + 1] = ('  %s  %s%s %d'):format(label, bar, string.rep(' ', BAR_WIDTH - vim.fn.strdisplaywidth(bar)), n)
  end
  return lines
end

--- The window's text for ``data`` (what stats.get() returns).
---@param data table
---@return string[]
function M.render(data)
  local lines = { 'llama-coder stats  (q closes; :LlamaCoderStats reset clears the saved totals)', '' }
  local names = {}
  for name in pairs(data.total or data.session) do
    names[#names + 1] = name
  end
  for name in pairs(data.session) do
    if not vim.tbl_contains(names, name) then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  if #names == 0 then
    lines[#lines + 1] = 'No suggestions shown yet.'
    return lines
  end
  local merged = stats.empty().ghost
  for _, name in ipairs(names) do
    local s, t = data.session[name], data.total and data.total[name]
    lines[#lines + 1] = ('%-28s %20s %20s'):format(name, 'this session', data.total and 'all sessions' or '')
    for _, r in ipairs(rows(s, t)) do
      lines[#lines + 1] = ('  %-26s %20s %20s'):format(r[1], r[2], data.total and r[3] or '')
    end
    lines[#lines + 1] = ''
    if s then
      for i, n in ipairs(s.ghost_histogram) do
        merged[i] = merged[i] + n
      end
    end
  end
  lines[#lines + 1] = 'time to ghost text, this session (all servers)'
  vim.list_extend(lines, histogram_lines(merged))
  return lines
end

--- Open the window.
function M.open()
  local lines = M.render(stats.get())
  local width = 0
  for _, line in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = 'llama_coder_stats'
  local height = math.min(#lines, math.max(1, vim.o.lines - 4))
  width = math.min(width + 2, math.max(20, vim.o.columns - 4))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = 'minimal',
    border = 'rounded',
    title = ' llama-coder ',
  })
  vim.keymap.set('n', 'q', function()
    pcall(vim.api.nvim_win_close, win, true)
  end, { buffer = buf, nowait = true, desc = 'llama-coder: close the stats window' })
  return win
end

return M
