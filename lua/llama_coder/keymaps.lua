-- Insert-mode keys. A key does its job only while a suggestion is visible at its place;
-- otherwise it does exactly what it did before the plugin: the earlier mapping, or the
-- key itself.
local M = {}

---@type table<string, table> lhs -> the mapping that was there before ours
local previous = {}
---@type table<string, boolean> the keys mapped now
local mapped = {}

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

---@param mapping table what maparg() returned for a mapping
---@return boolean
local function is_ours(mapping)
  return type(mapping.desc) == 'string' and mapping.desc:find('^llama%-coder') ~= nil
end

--- Take our mapping of ``lhs`` away and put back the one that was there before.
---@param lhs string
local function unmap(lhs)
  if is_ours(vim.fn.maparg(lhs, 'i', false, true)) then
    pcall(vim.keymap.del, 'i', lhs)
    local prev = previous[lhs]
    if prev and not vim.tbl_isempty(prev) then
      pcall(vim.fn.mapset, 'i', false, prev)
    end
  end
  previous[lhs] = nil
  mapped[lhs] = nil
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
  if not is_ours(existing) then
    previous[lhs] = existing
  end
  mapped[lhs] = true
  vim.keymap.set('i', lhs, function()
    if not action() then
      M.fallback(lhs)
    end
  end, { desc = 'llama-coder: ' .. desc, silent = true })
end

function M.setup()
  local config = require('llama_coder.config').current()
  local suggestion = require('llama_coder.suggestion')
  -- Keys from an earlier setup() that are not ours any more get their old meaning back.
  local wanted = {}
  for _, lhs in pairs(config.keymap) do
    if lhs then
      wanted[lhs] = true
    end
  end
  for lhs in pairs(vim.deepcopy(mapped)) do
    if not wanted[lhs] then
      unmap(lhs)
    end
  end
  -- Each action checks, at the moment the key is handled, that the suggestion is still
  -- at its place (keys in a batch run no autocmd between them).
  -- Looked up at each key press, not captured here.
  map(config.keymap.accept, function()
    return suggestion.accept()
  end, 'accept the suggestion')
  map(config.keymap.accept_word, function()
    return suggestion.accept_word()
  end, 'accept the next word')
  map(config.keymap.accept_line, function()
    return suggestion.accept_line()
  end, 'accept the next line')
  map(config.keymap.dismiss, function()
    return suggestion.is_visible() and require('llama_coder').dismiss()
  end, 'dismiss the suggestion')
  map(config.keymap.next, function()
    return suggestion.cycle(1)
  end, 'show the next suggestion')
  map(config.keymap.prev, function()
    return suggestion.cycle(-1)
  end, 'show the previous suggestion')
  map(config.keymap.trigger, function()
    require('llama_coder').trigger()
    return true
  end, 'ask for a suggestion')
end

return M
