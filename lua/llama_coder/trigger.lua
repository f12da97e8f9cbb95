-- The typing path: autocmds, one debounce timer, the filters, and the request sent to
-- the engine. Every keystroke cancels the pending timer and the request in flight.
local engine = require('llama_coder.engine')
local suggestion = require('llama_coder.suggestion')
local status = require('llama_coder.status')

local M = {}

local timer = nil ---@type uv.uv_timer_t|nil
local NOTEBOOK_MAX_LINES = 20000
local api = vim.api
---@type table<integer, boolean> per buffer: automatic suggestions on? (cleared on FileType)
local enabled = {}
---@type table<integer, boolean> per buffer: may it be a percent-format notebook? Scanned
---once per Insert session; while it says no, only the lines a request reads are checked
---again. A cheap superset of core/notebook.py's test, which decides: this only says
---whether to send the whole buffer.
local notebook = {}
local MAYBE_CELL_MARKER = '^%s*#%s?%%%%'
M.MAYBE_CELL_MARKER = MAYBE_CELL_MARKER

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
  suggestion.cancel_request()
end

--- Is a request scheduled or in flight? (For tests and benchmarks.)
---@return boolean
function M.busy()
  return suggestion.waiting() or (timer ~= nil and timer:is_active())
end

--- The first buffer line sent with a request on ``row``: the engine picks the prompt
--- window (core/prompt.py window()), whose start is never more than twice
--- ``prefix_lines`` above the cursor, out of the lines it gets.
---@param row integer
---@param prefix_lines integer
---@return integer
function M.first_line(row, prefix_lines)
  return math.max(0, row - 2 * prefix_lines)
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

--- May ``buf`` be a percent-format notebook (a ``# %%`` cell marker)? ``lines`` are
--- the lines at hand, where a marker just typed would be.
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
      if line:find(MAYBE_CELL_MARKER) then
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

--- The request for ``place`` in ``buf``: the lines the engine builds the prompt from and
--- what it needs to know of the buffer; nil when there is too little before the cursor
--- for an automatic suggestion.
---@param buf integer
---@param place LlamaCoderPlace
---@param manual boolean
---@return table|nil
local function request_for(buf, place, manual)
  local config = require('llama_coder.config').current()
  local row = place.row
  local line_count = api.nvim_buf_line_count(buf)
  local first = M.first_line(row, config.context.prefix_lines)
  local last = math.min(line_count, row + 1 + config.context.suffix_lines)
  local ft = vim.bo[buf].filetype
  local lines = api.nvim_buf_get_lines(buf, first, last, false)
  if ft == 'python' and line_count <= NOTEBOOK_MAX_LINES and is_notebook(buf, lines) then
    first, last = 0, line_count -- maybe a percent-format notebook: every cell counts
    lines = api.nvim_buf_get_lines(buf, first, last, false)
  end
  if not manual and not enough_prefix(lines, row - first, place.before, config.trigger.min_chars) then
    return nil
  end
  local name = api.nvim_buf_get_name(buf)
  return {
    first_line = first,
    lines = lines,
    path = name ~= '' and vim.fn.fnamemodify(name, ':.') or '',
    abspath = name,
    filetype = ft,
    expandtab = vim.bo[buf].expandtab,
    tabstop = vim.bo[buf].tabstop,
    buf = place.buf,
    tick = place.tick,
    row = place.row,
    col = place.col,
  }
end

--- Send a request for the cursor's place now.
---@param manual boolean|nil
function M.fire(manual)
  manual = manual or false
  set_typing(false) -- no debounce running now: changes and moves count again
  local buf = api.nvim_get_current_buf()
  if blocked(buf, manual) then
    return
  end
  local place = suggestion.here()
  local request = request_for(buf, place, manual)
  if not request then
    return
  end
  stop_timer()
  require('llama_coder.context').flush()
  suggestion.ask(request, place, manual and uv_now() or last_change)
end

-- Warm start: the engine starts, and the server evaluates the prompt window of the
-- buffer the user is in, before the first keystroke asks for a suggestion; again after
-- a long idle. Never for buffers whose suggestions are off.
local WARM_AFTER_IDLE_MS = 60000
local warmed = {} ---@type table<integer, integer> buffer -> uv_now() of its last warm-up

--- Start the engine and warm the server's prompt cache for the current buffer, once
--- Neovim is idle (SafeState), unless a request was sent lately.
function M.warm_soon()
  local buf = api.nvim_get_current_buf()
  if vim.bo[buf].buftype ~= '' or not auto_enabled(buf) then
    return
  end
  local last = math.max(warmed[buf] or -WARM_AFTER_IDLE_MS, suggestion.asked_at or -WARM_AFTER_IDLE_MS)
  if uv_now() - last < WARM_AFTER_IDLE_MS then
    return
  end
  warmed[buf] = uv_now()
  api.nvim_create_autocmd('SafeState', {
    group = group_id,
    once = true,
    callback = function()
      if api.nvim_get_current_buf() ~= buf or suggestion.waiting() or not api.nvim_buf_is_valid(buf) then
        return
      end
      if api.nvim_buf_line_count(buf) == 1 and api.nvim_buf_get_lines(buf, 0, 1, false)[1] == '' then
        -- Nothing to evaluate (the empty buffer Neovim starts with, say): a warm-up here
        -- would only hold back the one for the file opened next (one runs at a time).
        warmed[buf] = nil
        return
      end
      local place = suggestion.here()
      local request = request_for(buf, place, true)
      if request and engine.ensure() then
        request.id = 0
        require('llama_coder.context').flush()
        engine.send('llama_coder_warm', request)
      end
    end,
  })
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

--- A result from the engine (see suggestion.on_result); once one is shown, every change
--- and move is watched again.
---@param payload table
function M.on_result(payload)
  suggestion.on_result(payload)
  if suggestion.shown then
    set_typing(false)
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
  local result = suggestion.sync()
  if result == 'unchanged' or result == 'through' then
    return -- typing through the suggestion: no request, no flicker
  end
  suggestion.cancel_request()
  if auto_enabled(buf) then
    M.schedule() -- restarts the debounce timer if it was running
    if not suggestion.shown and timer and timer:is_active() then
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
  stop_timer()
  suggestion.reset()
  last_buf = -1
  set_typing(false)
end

--- Forget cached per-buffer decisions (after setup() or a filetype change).
---@param buf integer|nil
function M.forget(buf)
  if buf then
    enabled[buf] = nil
    notebook[buf] = nil
    warmed[buf] = nil
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
        engine.ensure() -- at the latest on the first InsertEnter; jobstart never blocks
        M.warm_soon()
        require('llama_coder.model').on_insert_enter()
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
      vim.schedule(suggestion.refresh)
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    group = group,
    pattern = { 'BlinkCmpMenuOpen', 'BlinkCmpMenuClose' },
    callback = function()
      vim.schedule(suggestion.refresh)
    end,
  })
  vim.api.nvim_create_autocmd('VimLeavePre', {
    group = group,
    callback = function()
      M.cancel()
      engine.shutdown()
      local config = require('llama_coder.config').current()
      if config.stats.persist then
        require('llama_coder.stats').save()
      end
    end,
  })
  vim.api.nvim_create_autocmd('BufEnter', {
    group = group,
    callback = function()
      status.changed()
      M.warm_soon()
    end,
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
