-- Insert-mode keys. A key does its job only while a suggestion is visible; otherwise it
-- does exactly what it did before the plugin: the earlier mapping, or the key itself.
local M = {}

---@type table<string, table> lhs -> the mapping that was there before ours
local previous = {}

---@param keys string
---@param mode string feedkeys mode
local function feed(keys, mode)
  -- 'i': insert at the start of the typeahead, before keys typed after this one.
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), mode .. 'i', false)
end

--- Do what ``lhs`` did before we mapped it.
---@param lhs string
function M.fallback(lhs)
  local prev = previous[lhs]
  if not prev or vim.tbl_isempty(prev) then
    feed(lhs, 'n')
    return
  end
  local mode = prev.noremap == 1 and 'n' or 'm'
  if prev.callback then
    local result = prev.callback()
    if prev.expr == 1 and type(result) == 'string' then
      feed(result, mode)
    end
  elseif prev.rhs and prev.rhs ~= '' then
    if prev.expr == 1 then
      feed(vim.api.nvim_eval(prev.rhs), mode)
    else
      feed(prev.rhs, mode)
    end
  else
    feed(lhs, 'n')
  end
end

---@param lhs string|false
---@param action fun(): boolean returns true when it handled the key
---@param desc string
local function map(lhs, action, desc)
  if not lhs then
    return
  end
  local existing = vim.fn.maparg(lhs, 'i', false, true)
  -- Remember the earlier mapping once; calling setup() again must not capture ours.
  if not (existing.desc and existing.desc:find('^llama%-coder')) then
    previous[lhs] = existing
  end
  vim.keymap.set('i', lhs, function()
    if not action() then
      M.fallback(lhs)
    end
  end, { desc = 'llama-coder: ' .. desc, silent = true })
end

function M.setup()
  local config = require('llama_coder.config').current()
  local ghost = require('llama_coder.ghost')
  local api = require('llama_coder')
  -- Looked up at each key press, not captured here.
  map(config.keymap.accept, function()
    return ghost.accept()
  end, 'accept the suggestion')
  map(config.keymap.accept_word, function()
    return ghost.accept_word()
  end, 'accept the next word')
  map(config.keymap.accept_line, function()
    return ghost.accept_line()
  end, 'accept the next line')
  map(config.keymap.dismiss, function()
    if not ghost.is_visible() then
      return false
    end
    api.dismiss()
    return true
  end, 'dismiss the suggestion')
  map(config.keymap.next, function()
    return require('llama_coder.alternatives').cycle(1)
  end, 'show the next suggestion')
  map(config.keymap.prev, function()
    return require('llama_coder.alternatives').cycle(-1)
  end, 'show the previous suggestion')
  map(config.keymap.trigger, function()
    api.trigger()
    return true
  end, 'ask for a suggestion')
end

return M
