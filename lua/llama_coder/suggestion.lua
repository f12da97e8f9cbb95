-- The one owner of the suggestion: the request in flight, the text on screen and the
-- place it was made for, its alternatives and the prefetch the engine may run for it.
-- Every action that uses the suggestion first checks, against the live editor, that it
-- is still at its place (keys can arrive in a batch with no autocmd in between).
-- ghost.lua only draws; trigger.lua only decides when to ask.
local engine = require('llama_coder.engine')
local ghost = require('llama_coder.ghost')
local stats = require('llama_coder.stats')
local status = require('llama_coder.status')

local M = {}

---@class LlamaCoderPlace
---@field win integer
---@field buf integer
---@field tick integer changedtick
---@field row integer 0-based
---@field col integer byte column of the cursor
---@field before string the cursor line up to the cursor
---@field after string the cursor line after the cursor

---@class LlamaCoderShown
---@field id integer the request it answers
---@field origin LlamaCoderPlace where the request was made
---@field place LlamaCoderPlace where ``text`` starts now (after typing through it)
---@field text string what is left to accept
---@field partial boolean still streaming in
---@field list string[] the alternatives for ``origin``, whole texts; list[index] is shown
---@field index integer
---@field fetching boolean alternatives asked for and not all in
---@field want_step integer a cycling key pressed before the alternatives came
---@field server string|nil which server answered (for stats)
---@field counted boolean the engine's numbers were counted
---@field accepted boolean part of it was accepted
---@field full string|nil the whole text for ``origin``, until its characters are counted

---@type {id: integer, place: LlamaCoderPlace, key_at: integer}|nil the request in flight
M.pending = nil
---@type LlamaCoderShown|nil
M.shown = nil
---@type table|nil the last final result from the engine, with its stats
M.last_result = nil
M.request_id = 0
---@type integer|nil vim.uv.now() of the last request
M.asked_at = nil
M.dropped = 0 -- results that no longer fitted the buffer, cursor or mode
-- A suggestion was shown: the engine may be prefetching what follows it.
local speculating = false

local api = vim.api

local function changed()
  api.nvim_exec_autocmds('User', { pattern = 'LlamaCoderSuggestion', modeline = false })
end

--- Where the cursor is now.
---@return LlamaCoderPlace
function M.here()
  local win = api.nvim_get_current_win()
  local buf = api.nvim_win_get_buf(win)
  local cursor = api.nvim_win_get_cursor(win)
  local row, col = cursor[1] - 1, cursor[2]
  local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  return {
    win = win,
    buf = buf,
    tick = api.nvim_buf_get_changedtick(buf),
    row = row,
    col = col,
    before = line:sub(1, col),
    after = line:sub(col + 1),
  }
end

--- What is left of ``text`` (shown at ``place``) for the editor as it is ``now``: the
--- same window, buffer and line, the user having typed nothing or exactly the next
--- characters of ``text`` (an auto-pair plugin may have added a closer after the cursor,
--- which is then dropped from the end of the suggestion's first line). nil: it does
--- not fit any more.
---@param place LlamaCoderPlace
---@param now LlamaCoderPlace
---@param text string
---@return string|nil
function M.fit(place, now, text)
  if now.win ~= place.win or now.buf ~= place.buf or now.row ~= place.row then
    return nil
  end
  if now.tick == place.tick and now.col == place.col then
    return text
  end
  if #now.before < #place.before or now.before:sub(1, #place.before) ~= place.before then
    return nil
  end
  local typed = now.before:sub(#place.before + 1)
  if typed == '' and now.after == place.after then
    return text -- the buffer changed elsewhere: the line the suggestion is for did not
  end
  if text:sub(1, #typed) ~= typed or #typed >= #text then
    return nil
  end
  local rest = text:sub(#typed + 1)
  if now.after ~= place.after then
    local inserted = now.after:sub(1, #now.after - #place.after)
    if inserted == '' or now.after:sub(#inserted + 1) ~= place.after then
      return nil
    end
    local first, nl, tail = rest:match('^([^\n]*)(\n?)(.*)$')
    if first:sub(-#inserted) ~= inserted then
      return nil
    end
    rest = first:sub(1, #first - #inserted) .. nl .. tail
  end
  if rest:match('^%s*$') then
    return nil
  end
  return rest
end

---@return boolean
local function in_insert_mode()
  return api.nvim_get_mode().mode:find('^i') ~= nil
end

--- Draw ``shown`` (or forget it when it cannot be drawn at all).
---@param shown LlamaCoderShown
local function draw(shown)
  local p = shown.place
  ghost.draw(p.win, p.buf, p.row, p.col, shown.text, p.before, p.after)
end

---@param position string|nil
local function show_position(position)
  status.set_alternatives(position)
end

--- Count the characters a suggestion showed, once.
---@param s LlamaCoderShown
local function count_chars(s)
  if s.full then
    stats.chars_shown(s.server, s.full)
    s.full = nil
  end
end

--- Forget the suggestion on screen (not the request in flight).
---@param how 'dismissed'|'typed_over'|nil what became of it, for stats
local function forget_shown(how)
  local s = M.shown
  if s then
    count_chars(s)
    if how and not s.accepted then
      stats.left(s.server, how)
    end
    M.shown = nil
    ghost.undraw()
    show_position(nil)
    changed()
  end
end

--- The suggestion on screen was left (typed past, dismissed, Insert mode left): the
--- prefetch for what follows it is of no use any more.
function M.drop_speculation()
  if speculating then
    speculating = false
    engine.send_soon('llama_coder_cancel', nil)
  end
end

--- Cancel the request in flight (the engine closes its connection).
function M.cancel_request()
  if M.pending then
    engine.send_soon('llama_coder_cancel', M.pending.id)
    M.pending = nil
  end
end

--- Everything goes: the request in flight, the suggestion, its alternatives, the
--- prefetch behind it.
function M.reset()
  M.cancel_request()
  M.drop_speculation()
  forget_shown('dismissed')
end

--- Bring the suggestion up to date with the editor as it is now: after keys typed
--- through it (trimmed, no request), or anything else (forgotten). Called on every
--- change and at the start of every action, since keys in a batch run no autocmd.
---@return 'none'|'unchanged'|'through'|'changed'
function M.sync()
  local s = M.shown
  if not s then
    return 'none'
  end
  local now = M.here()
  local p = s.place
  if now.win == p.win and now.tick == p.tick and now.row == p.row and now.col == p.col then
    return 'unchanged'
  end
  local rest = in_insert_mode() and M.fit(p, now, s.text) or nil
  if not rest then
    forget_shown('typed_over')
    M.drop_speculation()
    return 'changed'
  end
  s.text, s.place = rest, now
  draw(s)
  changed()
  return 'through'
end

---@return boolean
function M.is_visible()
  return M.sync() ~= 'none' and M.shown ~= nil and ghost.is_drawn()
end

---@return string|nil
function M.text()
  return M.shown and M.shown.text or nil
end

--- Send a completion request for ``place``; the previous one is cancelled.
---@param message table the request (lines, window, file, its place), without its id
---@param place LlamaCoderPlace
---@param key_at integer vim.uv.now() of the key (or trigger) it answers
function M.ask(message, place, key_at)
  M.cancel_request()
  speculating = false -- the engine keeps a prefetch for this very place, cancels others
  M.request_id = M.request_id + 1
  message.id = M.request_id
  M.pending = { id = M.request_id, place = place, key_at = key_at }
  M.asked_at = vim.uv.now()
  engine.send('llama_coder_complete', message)
end

--- Is a request in flight?
---@return boolean
function M.waiting()
  return M.pending ~= nil
end

--- Which server gave ``payload`` (the engine names it with the final result's stats).
---@param payload table
---@return string
local function server_of(payload)
  local named = type(payload.stats) == 'table' and payload.stats.server
  if type(named) == 'string' and named ~= '' then
    return named
  end
  return status.server()
end

--- A result from the engine: drawn only if it still fits the window, buffer, cursor,
--- line and mode (typed-through characters are trimmed from it).
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
  local text = type(payload.text) == 'string' and payload.text or ''
  local now = M.here()
  local rest = text ~= '' and in_insert_mode() and M.fit(p.place, now, text) or nil
  if not rest then
    M.dropped = M.dropped + 1
    if M.shown and M.shown.id == p.id and not payload.partial then
      forget_shown() -- the final text says no to what streamed in
    end
    return
  end
  local s = M.shown
  if not (s and s.id == p.id) then
    if s then
      forget_shown() -- an older suggestion, still shown while this was asked for
    end
    local server = server_of(payload)
    s = { id = p.id, origin = p.place, list = {}, index = 1, fetching = false, want_step = 0,
          server = server, counted = false, accepted = false }
    M.shown = s
    stats.shown(server, vim.uv.now() - p.key_at)
  end
  s.full = text
  if not payload.partial then
    count_chars(s)
    if not s.counted and type(payload.stats) == 'table' then
      s.counted = true
      stats.timings(s.server, payload.stats)
    end
  end
  s.text, s.place, s.partial = rest, now, payload.partial and true or false
  s.list, s.index = { text }, 1
  draw(s)
  speculating = not s.partial
  show_position(nil)
  changed()
end

--- Insert ``part`` of the suggestion and keep the rest visible.
---@param part string
---@param how 'whole'|'word'|'line'
local function insert(part, how)
  local s = M.shown --[[@as LlamaCoderShown]]
  local rest = s.text:sub(#part + 1)
  count_chars(s)
  stats.accepted(s.server, how, part, not s.accepted)
  if s.partial or (M.pending and M.pending.id == s.id) then
    M.cancel_request() -- what is shown is what is accepted; the rest is not wanted
  end
  M.shown = nil
  ghost.undraw()
  show_position(nil)
  -- nvim_paste from a (non-<expr>) mapping: one undo step with the typing before it,
  -- repeated by `.`, no auto-indent of the pasted lines, cursor at its end.
  api.nvim_paste(part, false, -1)
  if rest ~= '' and not rest:match('^%s*$') then
    local now = M.here()
    M.shown = {
      id = s.id,
      origin = now,
      place = now,
      text = rest,
      partial = false,
      list = { rest },
      index = 1,
      fetching = false,
      want_step = 0,
      server = s.server,
      counted = true,
      accepted = true,
    }
    draw(M.shown)
  end
  changed()
end

---@param how 'whole'|'word'|'line'
---@param pick fun(text: string): string the part to accept
---@return boolean accepted
local function accept_with(how, pick)
  if not M.is_visible() then
    return false
  end
  local text = M.shown.text
  local part = pick(text)
  insert(part ~= '' and part or text, how)
  return true
end

---@return boolean accepted
function M.accept()
  return accept_with('whole', function(text)
    return text
  end)
end

---@return boolean accepted
function M.accept_word()
  return accept_with('word', function(text)
    return vim.fn.matchstr(text, [=[\v^\_s*(\k+|\S)]=])
  end)
end

---@return boolean accepted
function M.accept_line()
  return accept_with('line', function(text)
    return text:match('^[^\n]+') or text:match('^\n[^\n]*') or text
  end)
end

--- Hide the suggestion and stop everything behind it.
---@return boolean dismissed
function M.dismiss()
  local visible = M.is_visible()
  M.reset()
  return visible
end

--- Show list[index] of the alternatives; those that no longer fit are skipped.
---@param s LlamaCoderShown
---@param step integer
local function step_to(s, step)
  local now = M.here()
  for _ = 1, #s.list do
    s.index = (s.index - 1 + step) % #s.list + 1
    local rest = M.fit(s.origin, now, s.list[s.index])
    if rest then
      s.text, s.place = rest, now
      draw(s)
      changed()
      break
    end
  end
  show_position(#s.list > 1 and ('%d/%d'):format(s.index, #s.list) or nil)
end

--- Show the next (step 1) or previous (-1) suggestion for this place; false when there
--- is none to cycle (the key then does what it did before). The first press asks the
--- engine for more.
---@param step integer
---@return boolean
function M.cycle(step)
  if not M.is_visible() then
    return false
  end
  local s = M.shown --[[@as LlamaCoderShown]]
  if s.partial then
    return false
  end
  if #s.list > 1 then
    step_to(s, step)
    return true
  end
  local config = require('llama_coder.config').current()
  local count = config.alternatives
  if count <= 1 then
    return false
  end
  if not s.fetching then
    s.fetching = true
    engine.send('llama_coder_alternatives', { id = s.id, count = count, known = s.list })
    show_position('1/…')
  end
  s.want_step = step
  return true
end

--- One more suggestion for the place of request ``payload.id``.
---@param payload table
function M.on_alternative(payload)
  local s = M.shown
  if not s or payload.id ~= s.id or type(payload.text) ~= 'string' then
    return
  end
  if payload.text == '' or vim.tbl_contains(s.list, payload.text) then
    return
  end
  table.insert(s.list, payload.text)
  if s.want_step ~= 0 and M.is_visible() then
    local step = s.want_step
    s.want_step = 0
    step_to(s, step)
  else
    show_position(('%d/%d'):format(s.index, #s.list))
  end
end

--- The engine has no more alternatives to offer.
---@param payload table
function M.on_alternatives_done(payload)
  local s = M.shown
  if s and payload.id == s.id then
    s.fetching = false
    s.want_step = 0
    show_position(#s.list > 1 and ('%d/%d'):format(s.index, #s.list) or '1/1')
  end
end

--- Redraw after a popup menu closed (or hide while one is open).
function M.refresh()
  if M.sync() == 'unchanged' then -- 'through' has drawn it already
    draw(M.shown --[[@as LlamaCoderShown]])
  end
end

return M
