-- Shared by the Lua unit tests (tests/lua/*_spec.lua, run by tests/unit/test_lua_units.py
-- with `nvim -l`): the plugin on the runtimepath and a deep-equality check.
vim.opt.rtp:prepend(vim.env.LLAMA_CODER_ROOT)

local M = {}

---@param got any
---@param want any
---@param what string
function M.eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error(('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want)), 2)
  end
end

return M
