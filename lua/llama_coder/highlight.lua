-- The ghost text's highlight group. By default it looks like Comment; where Comment has
-- no colour for one of the two modes (Neovim's default colour scheme gives it a GUI
-- colour only, so without 'termguicolors' it would draw like typed text), the missing
-- colour is a grey. Always a default: a colour scheme or the user that sets the group
-- wins. Decided again after every :colorscheme and 'background' change.
local M = {}

M.GROUP = 'LlamaCoderSuggestion'
M.GUI_GREY = 0x808080
M.CTERM_GREY_256 = 244
M.CTERM_GREY_16 = 8

--- How many colours the terminal gets, as Neovim's TUI decides (:h tui-colors): 256 for
--- most terminals, else (an unknown $TERM without "256" and no $COLORTERM) 16 at most.
---@param term string|nil $TERM
---@param colorterm string|nil $COLORTERM
---@return integer 256 or 16
function M.colors(term, colorterm)
  if colorterm and colorterm ~= '' then
    return 256
  end
  term = term or ''
  if term:find('256', 1, true) then
    return 256
  end
  for _, prefix in ipairs({ 'xterm', 'linux', 'tmux', 'rxvt', 'kitty', 'alacritty', 'foot', 'wezterm', 'ghostty' }) do
    if term:sub(1, #prefix) == prefix then
      return 256
    end
  end
  return 16
end

--- The group's definition, from Comment's resolved colours.
---@param comment table nvim_get_hl() of Comment, links resolved
---@param colors integer 256 or 16
---@return table spec for nvim_set_hl (without `default`)
function M.decide(comment, colors)
  if comment.fg and comment.ctermfg then
    return { link = 'Comment' }
  end
  return {
    fg = comment.fg or M.GUI_GREY,
    ctermfg = comment.ctermfg or (colors >= 256 and M.CTERM_GREY_256 or M.CTERM_GREY_16),
    italic = comment.italic,
  }
end

--- Whether the group as it is now is the plugin's default (or nothing), which may be
--- decided again; anything a colour scheme or the user set is theirs.
---@param current table nvim_get_hl() of the group, links not resolved
---@return boolean
function M.is_default(current)
  if next(current) == nil or current.default then
    return true
  end
  -- After :hi clear, Neovim restores the default link given earlier.
  return current.link == 'Comment' and vim.tbl_count(current) == 1
end

--- Define (or define again) the default.
function M.apply()
  if not M.is_default(vim.api.nvim_get_hl(0, { name = M.GROUP })) then
    return
  end
  local comment = vim.api.nvim_get_hl(0, { name = 'Comment', link = false })
  local spec = M.decide(comment, M.colors(vim.env.TERM, vim.env.COLORTERM))
  spec.default = true
  spec.force = true -- replaces the plugin's own earlier default, and only that
  vim.api.nvim_set_hl(0, M.GROUP, spec)
end

--- Decide again after every colour scheme and 'background' change.
function M.watch()
  local group = vim.api.nvim_create_augroup('llama_coder_highlight', { clear = true })
  vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = M.apply })
  vim.api.nvim_create_autocmd('OptionSet', { group = group, pattern = 'background', callback = M.apply })
end

return M
