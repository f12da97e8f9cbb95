-- Ghost text: draws a suggestion with one extmark, in one window only. Knows nothing of
-- requests or accepting; lua/llama_coder/suggestion.lua decides what is shown where.
local M = {}

M.ns = vim.api.nvim_create_namespace('llama_coder')
local HL = 'LlamaCoderSuggestion'

---@class LlamaCoderDrawn
---@field buf integer
---@field mark integer

---@type LlamaCoderDrawn|nil the extmark on screen
local drawn = nil
---@type integer|nil the window the namespace is scoped to
local scoped_win = nil

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

--- Tabs as spaces for inline or overlaid virtual text (Neovim prints a raw tab cell
--- there).
---@param text string
---@param start_vcol integer display column where the text starts
---@param tabstop integer
---@return string
function M.expand_tabs(text, start_vcol, tabstop)
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

--- One virtual line: the suggestion's ``text`` (ghost colour), then ``real`` (the rest
--- of the cursor line, in its own colour) after it.
---@param text string
---@param real string
---@param tabstop integer
---@return table
local function expand_line(text, real, tabstop)
  local shown = M.expand_tabs(text, 0, tabstop)
  if real == '' then
    return { { shown == '' and ' ' or shown, HL } }
  end
  local chunks = {}
  if shown ~= '' then
    chunks[1] = { shown, HL }
  end
  chunks[#chunks + 1] = { M.expand_tabs(real, vim.fn.strdisplaywidth(shown), tabstop), 'Normal' }
  return chunks
end

--- The extmark options that show ``text`` at a cursor between ``before`` and ``after``
--- (the cursor line's text) exactly as accepting it would leave the buffer. A one-line
--- suggestion, or one at the end of the line, is drawn inline; a multi-line one in the
--- middle of a line covers the rest of the line, which reappears after its last line,
--- where the insertion puts it.
---@param text string
---@param before string
---@param after string
---@param tabstop integer
---@return table
function M.layout(text, before, after, tabstop)
  local lines = vim.split(text, '\n', { plain = true })
  local start = vim.fn.strdisplaywidth(before)
  local first = M.expand_tabs(lines[1], start, tabstop)
  local opts = { hl_mode = 'combine', priority = 65535, right_gravity = true }
  local multi_mid = #lines > 1 and after ~= ''
  if multi_mid then
    -- Cover the rest of the line (spaces where the suggestion's line is shorter).
    local rest_width = vim.fn.strdisplaywidth(M.expand_tabs(after, start, tabstop))
    local pad = math.max(0, rest_width - vim.fn.strdisplaywidth(first))
    opts.virt_text_pos = 'overlay'
    opts.virt_text = { { first .. string.rep(' ', pad), HL } }
  else
    opts.virt_text_pos = 'inline'
    if first ~= '' then
      opts.virt_text = { { first, HL } }
    end
  end
  if #lines > 1 then
    local virt_lines = {}
    for i = 2, #lines do
      local line = expand_line(lines[i], i == #lines and multi_mid and after or '', tabstop)
      virt_lines[#virt_lines + 1] = line
    end
    opts.virt_lines = virt_lines
  end
  return opts
end

--- Show the namespace in ``win`` only (other windows on the same buffer stay clean).
---@param win integer
local function scope_to(win)
  if scoped_win == win then
    return
  end
  if vim.api.nvim__ns_set then
    pcall(vim.api.nvim__ns_set, M.ns, { wins = { win } })
  elseif vim.api.nvim__win_add_ns then -- Neovim 0.10
    if scoped_win and vim.api.nvim_win_is_valid(scoped_win) then
      pcall(vim.api.nvim__win_del_ns, scoped_win, M.ns)
    end
    pcall(vim.api.nvim__win_add_ns, win, M.ns)
  end
  scoped_win = win
end

--- Remove the ghost text.
function M.undraw()
  if drawn then
    pcall(vim.api.nvim_buf_del_extmark, drawn.buf, M.ns, drawn.mark)
    drawn = nil
  end
end

---@return boolean
function M.is_drawn()
  return drawn ~= nil
end

--- Draw ``text`` at (row, col) of ``buf`` in ``win`` (hidden while a popup menu is
--- open, with ui.hide_during_completion).
---@param win integer
---@param buf integer
---@param row integer 0-based
---@param col integer byte column
---@param text string
---@param before string the cursor line up to col
---@param after string the cursor line after col
---@return boolean drawn
function M.draw(win, buf, row, col, text, before, after)
  local config = require('llama_coder.config').current()
  if config.ui.hide_during_completion and menu_visible() then
    M.undraw()
    return false
  end
  if drawn and drawn.buf ~= buf then
    M.undraw()
  end
  scope_to(win)
  local opts = M.layout(text, before, after, vim.bo[buf].tabstop)
  opts.id = drawn and drawn.mark or nil
  local ok, mark = pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, row, col, opts)
  if not ok then
    M.undraw()
    return false
  end
  drawn = { buf = buf, mark = mark }
  return true
end

return M
