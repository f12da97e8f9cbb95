-- Ghost text: the suggestion drawn with extmarks at the cursor, trimmed locally while
-- the user types through it, accepted with nvim_paste (one undo step, dot-repeatable).
local M = {}

M.ns = vim.api.nvim_create_namespace('llama_coder')
local HL = 'LlamaCoderSuggestion'

---@class LlamaCoderGhost
---@field buf integer
---@field row integer 0-based
---@field col integer byte column of the cursor when drawn
---@field text string what is left to accept
---@field line_before string the cursor line up to the cursor
---@field line_after string the cursor line after the cursor
---@field mark integer|nil extmark id while drawn

---@type LlamaCoderGhost|nil
M.state = nil

---@return boolean
local function menu_visible()
  if vim.fn.pumvisible() == 1 then
    return true
  end
  local ok_cmp, cmp = pcall(require, 'cmp')
  if ok_cmp and type(cmp) == 'table' and type(cmp.visible) == 'function' and cmp.visible() then
    return true
  end
  local ok_blink, blink = pcall(require, 'blink.cmp')
  if ok_blink and type(blink) == 'table' and type(blink.is_menu_visible) == 'function' then
    local ok, visible = pcall(blink.is_menu_visible)
    if ok and visible then
      return true
    end
  end
  return false
end

--- Tabs as spaces for inline virtual text (Neovim prints a raw tab cell there).
---@param text string
---@param start_vcol integer display column where the text starts
---@param tabstop integer
---@return string
local function expand_tabs(text, start_vcol, tabstop)
  if not text:find('\t', 1, true) then
    return text
  end
  local out, vcol = {}, start_vcol
  for ch in text:gmatch('[%z\1-\127\194-\244][\128-\191]*') do
    if ch == '\t' then
      local n = tabstop - (vcol % tabstop)
      table.insert(out, string.rep(' ', n))
      vcol = vcol + n
    else
      table.insert(out, ch)
      vcol = vcol + vim.fn.strdisplaywidth(ch)
    end
  end
  return table.concat(out)
end

local function undraw()
  local s = M.state
  if s and s.mark then
    pcall(vim.api.nvim_buf_del_extmark, s.buf, M.ns, s.mark)
    s.mark = nil
  end
end

--- Draw the current state at its place (or keep it hidden while a menu is open).
local function draw()
  local s = M.state
  if not s then
    return
  end
  local config = require('llama_coder.config').current()
  if config.ui.hide_during_completion and menu_visible() then
    undraw()
    return
  end
  local lines = vim.split(s.text, '\n', { plain = true })
  local tabstop = vim.bo[s.buf].tabstop
  local first = expand_tabs(lines[1], vim.fn.strdisplaywidth(s.line_before), tabstop)
  local opts = {
    id = s.mark,
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    priority = 65535,
    right_gravity = true,
  }
  if first ~= '' then
    opts.virt_text = { { first, HL } }
  end
  if #lines > 1 then
    local virt_lines = {}
    for i = 2, #lines do
      local text = expand_tabs(lines[i], 0, tabstop)
      table.insert(virt_lines, { { text == '' and ' ' or text, HL } })
    end
    opts.virt_lines = virt_lines
  end
  local ok, mark = pcall(vim.api.nvim_buf_set_extmark, s.buf, M.ns, s.row, s.col, opts)
  if ok then
    s.mark = mark
  else
    M.clear()
  end
end

---@return boolean
function M.is_visible()
  return M.state ~= nil and M.state.mark ~= nil
end

---@return string|nil
function M.suggestion()
  return M.state and M.state.text or nil
end

local function fire_changed()
  vim.api.nvim_exec_autocmds('User', { pattern = 'LlamaCoderSuggestion', modeline = false })
end

function M.clear()
  if not M.state then
    return
  end
  undraw()
  M.state = nil
  fire_changed()
end

--- Show ``text`` at the cursor of the current window (which must be at buf/row/col).
---@param buf integer
---@param row integer
---@param col integer
---@param text string
function M.show(buf, row, col, text)
  if M.state and M.state.buf ~= buf then
    M.clear()
  end
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  local mark = M.state and M.state.mark or nil -- same buffer: move the mark in place
  M.state = {
    buf = buf,
    row = row,
    col = col,
    text = text,
    line_before = line:sub(1, col),
    line_after = line:sub(col + 1),
    mark = mark,
  }
  draw()
  fire_changed()
end

--- Redraw after a popup menu closed (or hide when one opened).
function M.refresh()
  if M.state then
    draw()
  end
end

--- After a text change in Insert mode: keep the ghost when the user typed exactly its
--- next characters (trimmed, no request), or nothing changed; else clear it.
---@return 'none'|'unchanged'|'through'|'changed'
function M.on_text_changed()
  local s = M.state
  if not s then
    return 'none'
  end
  local buf = vim.api.nvim_get_current_buf()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  if buf ~= s.buf or row ~= s.row then
    M.clear()
    return 'changed'
  end
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  local before, after = line:sub(1, col), line:sub(col + 1)
  if before == s.line_before and after == s.line_after then
    return 'unchanged'
  end
  if #before > #s.line_before and vim.startswith(before, s.line_before) then
    local typed = before:sub(#s.line_before + 1)
    if vim.startswith(s.text, typed) and #typed < #s.text then
      local rest = s.text:sub(#typed + 1)
      -- An auto-pair plugin may have inserted a closer after the cursor: drop it from
      -- the end of the suggestion's first line, where it would appear twice.
      if after ~= s.line_after and vim.endswith(after, s.line_after) then
        local inserted = after:sub(1, #after - #s.line_after)
        local first, nl, tail = rest:match('^([^\n]*)(\n?)(.*)$')
        if inserted ~= '' and vim.endswith(first, inserted) then
          rest = first:sub(1, #first - #inserted) .. nl .. tail
        end
      end
      if rest:match('^%s*$') then
        M.clear()
        return 'changed'
      end
      s.text, s.col, s.line_before, s.line_after = rest, col, before, after
      draw()
      fire_changed()
      return 'through'
    end
  end
  M.clear()
  return 'changed'
end

--- The cursor moved: the ghost stays only while the cursor is at its place.
function M.on_cursor_moved()
  local s = M.state
  if not s then
    return
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  if vim.api.nvim_get_current_buf() ~= s.buf or cursor[1] - 1 ~= s.row or cursor[2] ~= s.col then
    M.clear()
  end
end

--- Insert ``part`` of the suggestion and keep the rest visible.
---@param part string
local function insert(part)
  local s = M.state
  if not s or part == '' then
    return
  end
  local rest = s.text:sub(#part + 1)
  undraw()
  M.state = nil
  -- nvim_paste from a (non-<expr>) mapping: one undo step with the typing before it,
  -- repeated by `.`, no auto-indent of the pasted lines, cursor at its end.
  vim.api.nvim_paste(part, false, -1)
  if rest ~= '' and not rest:match('^%s*$') then
    local cursor = vim.api.nvim_win_get_cursor(0)
    M.show(vim.api.nvim_get_current_buf(), cursor[1] - 1, cursor[2], rest)
  else
    fire_changed()
  end
end

---@return boolean accepted
function M.accept()
  if not M.is_visible() then
    return false
  end
  insert(M.state.text)
  return true
end

---@return boolean accepted
function M.accept_word()
  if not M.is_visible() then
    return false
  end
  local word = vim.fn.matchstr(M.state.text, [=[\v^\_s*(\k+|\S)]=])
  insert(word ~= '' and word or M.state.text)
  return true
end

---@return boolean accepted
function M.accept_line()
  if not M.is_visible() then
    return false
  end
  local text = M.state.text
  local line = text:match('^[^\n]+') or text:match('^\n[^\n]*') or text
  insert(line)
  return true
end

return M
