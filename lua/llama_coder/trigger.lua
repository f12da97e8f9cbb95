-- The typing path: autocmds, one debounce timer, the filters, and the request sent to
-- the engine. Every keystroke cancels the pending timer and the request in flight.
local engine = require('llama_coder.engine')
local ghost = require('llama_coder.ghost')
local status = require('llama_coder.status')
local alternatives = require('llama_coder.alternatives')

local M = {}

M.request_id = 0
---@type table|nil the last result from the engine, with its stats (timings, cache)
M.last_result = nil
M.dropped = 0 -- results that came too late for the buffer, cursor or mode
---@type table|nil the request in flight: id, buf, tick, row, col
M.pending = nil
---@type table|nil the last request sent (asked again for alternatives)
M.last_request = nil
local timer = nil ---@type uv.uv_timer_t|nil
local NOTEBOOK_MAX_LINES = 20000
local api = vim.api
---@type table<integer, boolean> per buffer: automatic suggestions on? (cleared on FileType)
local enabled = {}
---@type table<integer, boolean> per buffer: a percent-format notebook? Scanned once per
---Insert session; while it says no, only the lines a request reads are checked again.
local notebook = {}
local CELL_MARKER = '^%s*#%s?%%%%'

local uv_now = vim.uv.now
-- Typing: the debounce runs and nothing is shown, so a key only moves the deadline.
-- See set_typing().
local typing = false
local delay_ms = 0 -- the running debounce's delay
local last_change = 0 -- uv_now() of the last key: the debounce ends delay_ms after it

---@type fun(on: boolean)
local set_typing

local function stop_timer()
  if timer then
    timer:stop()
  end
  set_typing(false) -- no debounce runs any more: changes and moves count again
end

--- Cancel the debounce and the request in flight (the engine closes its connection).
function M.cancel()
  stop_timer()
  if M.pending then
    engine.send_soon('llama_coder_cancel', M.pending.id)
    M.pending = nil
  end
end

-- A suggestion is on screen and the engine may be prefetching what follows it.
local speculating = false

--- The suggestion on screen was left (typed past, dismissed, Insert mode left): the
--- prefetch for what follows it is of no use any more.
function M.drop_speculation()
  if speculating then
    speculating = false
    engine.send_soon('llama_coder_cancel', nil)
  end
end

--- Is a request scheduled or in flight? (For tests and benchmarks.)
---@return boolean
function M.busy()
  return M.pending ~= nil or (timer ~= nil and timer:is_active())
end

--- The prefix window's first line: the engine's formula (core/prompt.py window()).
---@param row integer
---@param prefix_lines integer
---@return integer
function M.window_start(row, prefix_lines)
  local step = math.max(1, math.floor(prefix_lines / 4))
  local start = math.max(0, row - prefix_lines)
  return start - start % step
end

--- Automatic suggestions on for ``buf``: not paused, filetype allowed (cached per
--- buffer, forgotten on FileType and setup()).
---@param buf integer
---@return boolean
local function auto_enabled(buf)
  local on = enabled[buf]
  if on == nil then
    on = status.filetype_enabled(buf)
    enabled[buf] = on
  end
  return on and not status.paused
end

---@param buf integer
---@param manual boolean
---@return string|nil why no request is sent
local function blocked(buf, manual)
  if not vim.api.nvim_get_mode().mode:find('^i') then
    return 'not in insert mode'
  end
  if vim.bo[buf].buftype ~= '' or not vim.bo[buf].modifiable then
    return 'special buffer'
  end
  if not manual and not auto_enabled(buf) then
    return 'paused or filetype off'
  end
  return nil
end

---@param lines string[]
---@param upto integer number of lines (of ``lines``) before the cursor line
---@param before string cursor line up to the cursor
---@param min integer
---@return boolean
local function enough_prefix(lines, upto, before, min)
  if min <= 0 then
    return true
  end
  local count = #before:gsub('%s', '')
  for i = upto, 1, -1 do
    if count >= min then
      return true
    end
    count = count + #lines[i]:gsub('%s', '')
  end
  return count >= min
end

--- Is ``buf`` a percent-format notebook (a ``# %%`` cell marker)? ``lines`` are the
--- lines at hand, where a marker just typed would be.
---@param buf integer
---@param lines string[]
---@return boolean
local function is_notebook(buf, lines)
  local known = notebook[buf]
  if known == nil then
    known = vim.fn.search([[^\s*#\s\?%%]], 'nw') > 0
    notebook[buf] = known
  end
  if not known then
    for _, line in ipairs(lines) do
      if line:find(CELL_MARKER) then
        notebook[buf] = true
        return true
      end
    end
  end
  return known
end

-- While the user types (the debounce runs, nothing is shown) each key only moves the
-- debounce's deadline. Then neither TextChangedI nor CursorMovedI is watched: a
-- vim.on_key callback records the key's time, which costs Neovim a fraction of what an
-- autocmd with a Lua callback does per key (measured: bench figure 3). Text changed or
-- the cursor moved by a key is read when the timer fires, as the request reads the
-- buffer and cursor then. Otherwise (a suggestion shown, whose place every change and
-- move must be checked against; no debounce running) both autocmds are watched.
local group_id = nil ---@type integer|nil
local change_aus = nil ---@type integer[]|nil
local on_change ---@type fun()
local on_text_changed ---@type fun()
local KEY_NS = api.nvim_create_namespace('llama_coder.typing')

local function on_key()
  last_change = uv_now()
end

---@param on boolean
function set_typing(on)
  if on == typing then
    return
  end
  typing = on
  if on then
    for _, id in ipairs(change_aus or {}) do
      pcall(api.nvim_del_autocmd, id)
    end
    change_aus = nil
    vim.on_key(on_key, KEY_NS)
  else
    vim.on_key(nil, KEY_NS)
    if not change_aus and group_id then
      change_aus = {
        api.nvim_create_autocmd('TextChangedI', { group = group_id, callback = on_text_changed }),
        api.nvim_create_autocmd('CursorMovedI', { group = group_id, callback = on_change }),
      }
    end
  end
end

--- Send a request for the cursor's place now.
---@param manual boolean|nil
function M.fire(manual)
  manual = manual or false
  set_typing(false) -- no debounce running now: changes and moves count again
  local buf = vim.api.nvim_get_current_buf()
  if blocked(buf, manual) then
    return
  end
  local config = require('llama_coder.config').current()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local line_count = vim.api.nvim_buf_line_count(buf)
  local first = M.window_start(row, config.context.prefix_lines)
  local last = math.min(line_count, row + 1 + config.context.suffix_lines)
  local ft = vim.bo[buf].filetype
  local lines = vim.api.nvim_buf_get_lines(buf, first, last, false)
  if ft == 'python' and line_count <= NOTEBOOK_MAX_LINES and is_notebook(buf, lines) then
    first, last = 0, line_count -- a percent-format notebook: every cell counts
    lines = vim.api.nvim_buf_get_lines(buf, first, last, false)
  end
  local before = (lines[row - first + 1] or ''):sub(1, col)
  if not manual and not enough_prefix(lines, row - first, before, config.trigger.min_chars) then
    return
  end
  M.cancel()
  speculating = false -- the engine keeps a prefetch for this very place, cancels others
  M.request_id = M.request_id + 1
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  local name = vim.api.nvim_buf_get_name(buf)
  M.pending = { id = M.request_id, buf = buf, tick = tick, row = row, col = col }
  require('llama_coder.context').flush()
  M.last_request = {
    id = M.request_id,
    buf = buf,
    tick = tick,
    row = row,
    col = col,
    first_line = first,
    lines = lines,
    path = name ~= '' and vim.fn.fnamemodify(name, ':.') or '',
    abspath = name,
    filetype = ft,
    expandtab = vim.bo[buf].expandtab,
    tabstop = vim.bo[buf].tabstop,
  }
  engine.send('llama_coder_complete', M.last_request)
end

local fire_automatic ---@type fun()

--- Keys that came while the debounce ran moved its deadline: wait for the rest of it.
---@return boolean
local function deadline_moved()
  local rest = last_change + delay_ms - uv_now()
  if rest > 0 and timer then
    timer:start(rest, 0, fire_automatic)
    return true
  end
  return false
end

-- libuv's timer callback is a fast event (no API calls there): checked again once
-- scheduled, in case a key came in between.
fire_automatic = function()
  if not deadline_moved() then
    vim.schedule(function()
      if not deadline_moved() then
        M.fire(false)
      end
    end)
  end
end

--- (Re)start the debounce: a request ``delay`` ms after the last change (while typing,
--- after the last key: see set_typing()).
function M.schedule()
  local delay = require('llama_coder.config').current().delay
  if delay < 0 then
    stop_timer()
    return
  end
  timer = timer or vim.uv.new_timer()
  delay_ms, last_change = delay, uv_now()
  timer:start(delay, 0, fire_automatic) -- a running timer starts over
end

--- A result from the engine: drawn only if it still fits the buffer, cursor and mode.
---@param payload table
function M.on_result(payload)
  local p = M.pending
  if not p or payload.id ~= p.id then
    return
  end
  if not payload.partial then
    M.pending = nil
    M.last_result = payload
    if payload.stats then
      status.set_info(payload.stats.info_short)
    end
  end
  local buf = vim.api.nvim_get_current_buf()
  local cursor = vim.api.nvim_win_get_cursor(0)
  if
    buf ~= payload.buf
    or vim.api.nvim_buf_get_changedtick(buf) ~= payload.tick
    or cursor[1] - 1 ~= payload.row
    or cursor[2] ~= payload.col
    or not vim.api.nvim_get_mode().mode:find('^i')
  then
    M.dropped = M.dropped + 1
    return
  end
  if type(payload.text) == 'string' and payload.text ~= '' then
    ghost.show(buf, payload.row, payload.col, payload.text)
    set_typing(false)
    speculating = not payload.partial
    if not payload.partial then
      local last = M.last_request
      alternatives.reset(payload, last and last.id == payload.id and last or nil)
    end
  elseif not payload.partial then
    ghost.clear()
  end
end

-- The last (buffer, changedtick, row, col) handled: TextChangedI and CursorMovedI
-- both fire for one keystroke, and the second has nothing left to do.
local last_buf, last_tick, last_row, last_col = -1, -1, -1, -1

-- The hot path: runs for every keystroke in Insert mode, so it does as little as it can.
-- A typed character fires CursorMovedI (when watched) and then TextChangedI.
function on_change()
  local buf = api.nvim_get_current_buf()
  local tick = api.nvim_buf_get_changedtick(buf)
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1], cursor[2]
  if buf == last_buf and tick == last_tick and row == last_row and col == last_col then
    return
  end
  last_buf, last_tick, last_row, last_col = buf, tick, row, col
  if ghost.state then
    local result = ghost.on_text_changed()
    if result == 'unchanged' or result == 'through' then
      return -- typing through the suggestion: no request, no flicker
    end
    M.drop_speculation()
    alternatives.forget()
  end
  if M.pending then
    M.cancel()
  end
  if auto_enabled(buf) then
    M.schedule() -- restarts the debounce timer if it was running
    if not ghost.state and timer and timer:is_active() then
      set_typing(true)
    end
  end
end

-- TextChangedI (not watched while typing) and TextChangedP. Right after the
-- CursorMovedI that already handled the same change it returns after two calls; a
-- change without a cursor move (<Del>) gets the full path.
function on_text_changed()
  if typing then
    last_change = uv_now() -- TextChangedP: the completion menu is open
    return
  end
  local buf = api.nvim_get_current_buf()
  if buf == last_buf and api.nvim_buf_get_changedtick(buf) == last_tick then
    return
  end
  on_change()
end

local function on_leave()
  M.cancel()
  M.drop_speculation()
  alternatives.forget()
  ghost.clear()
  last_buf = -1
  set_typing(false)
end

--- Forget cached per-buffer decisions (after setup() or a filetype change).
---@param buf integer|nil
function M.forget(buf)
  if buf then
    enabled[buf] = nil
    notebook[buf] = nil
  else
    enabled = {}
    notebook = {}
  end
end

function M.setup()
  local group = vim.api.nvim_create_augroup('llama_coder', { clear = true })
  vim.api.nvim_create_autocmd('InsertEnter', {
    group = group,
    callback = function(args)
      notebook[args.buf] = nil -- scanned again on the first request of this Insert session
      if auto_enabled(args.buf) then
        engine.ensure() -- lazily, on the first InsertEnter; jobstart never blocks
      end
    end,
  })
  vim.api.nvim_create_autocmd('TextChangedP', {
    group = group,
    callback = on_text_changed,
  })
  group_id, change_aus, typing = group, nil, true -- the group was just cleared
  set_typing(false) -- watch changes and moves
  vim.api.nvim_create_autocmd({ 'InsertLeavePre', 'BufLeave', 'WinLeave' }, {
    group = group,
    callback = on_leave,
  })
  vim.api.nvim_create_autocmd({ 'CompleteChanged', 'CompleteDone' }, {
    group = group,
    callback = function()
      vim.schedule(ghost.refresh)
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    group = group,
    pattern = { 'BlinkCmpMenuOpen', 'BlinkCmpMenuClose' },
    callback = function()
      vim.schedule(ghost.refresh)
    end,
  })
  vim.api.nvim_create_autocmd('VimLeavePre', {
    group = group,
    callback = function()
      M.cancel()
      engine.shutdown()
    end,
  })
  vim.api.nvim_create_autocmd('BufEnter', {
    group = group,
    callback = status.changed,
  })
  vim.api.nvim_create_autocmd({ 'FileType', 'BufWipeout' }, {
    group = group,
    callback = function(args)
      M.forget(args.buf)
    end,
  })
  require('llama_coder.context').setup(group)
  M.forget()
end

return M
