-- Is this Neovim new enough? Written for any Neovim (0.5 and later): plugin/ and setup()
-- ask before requiring anything that needs 0.10, and on an older Neovim say so in one
-- line instead of a stack trace.
local M = {}

M.REQUIRED = '0.10'

---@return boolean
function M.supported()
  return vim.fn.has('nvim-' .. M.REQUIRED) == 1
end

---@return string such as '0.7.2'
function M.running_version()
  local v = vim.version and vim.version() or nil
  if type(v) == 'table' and v.major then
    return ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  end
  return '(unknown)'
end

---@return string
function M.message()
  return ('llama-coder needs Neovim %s or newer, this is %s'):format(M.REQUIRED, M.running_version())
end

local shown = false

--- Show the message: once per session, or every time with `again` (the commands).
---@param again boolean|nil
function M.complain(again)
  if shown and not again then
    return
  end
  shown = true
  -- nvim_echo, not an error: one line, without "Error detected while processing".
  vim.api.nvim_echo({ { M.message(), 'ErrorMsg' } }, true, {})
end

return M
