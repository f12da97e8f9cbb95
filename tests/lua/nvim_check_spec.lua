-- llama_coder.nvim_check: the one line an older Neovim gets. Run with `nvim --clean -l`.
local root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h')
vim.opt.rtp:prepend(root)
local check = require('llama_coder.nvim_check')

assert(check.supported(), 'this Neovim is 0.10 or newer')
local v = vim.version()
local running = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
assert(check.running_version() == running, check.running_version())
assert(
  check.message() == 'llama-coder needs Neovim 0.10 or newer, this is ' .. running,
  check.message()
)
print('ok')
