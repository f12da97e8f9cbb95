-- keymaps: a key that finds no suggestion does what it did before the plugin mapped it.
local t = dofile(vim.env.LLAMA_CODER_ROOT .. '/tests/lua/helper.lua')
local keymaps = require('llama_coder.keymaps')
local config = require('llama_coder.config')

local fed = {}
vim.api.nvim_feedkeys = function(keys, mode, escape)
  table.insert(fed, { keys = keys, mode = mode })
end
local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

vim.cmd('inoremap <Tab> <C-t>')
vim.cmd([[inoremap <expr> <C-Right> "word"]])
vim.keymap.set('i', '<C-Down>', function()
  return '<End>'
end, { expr = true })
config.setup({ keymap = { accept_line = '<C-Down>' } })
keymaps.setup()

for _, lhs in ipairs({ '<Tab>', '<C-Right>', '<C-Down>', '<C-]>' }) do
  local mapping = vim.fn.maparg(lhs, 'i', false, true)
  assert(mapping.desc and mapping.desc:find('^llama%-coder'), lhs .. ' is ours')
end

keymaps.fallback('<Tab>')
t.eq(fed[#fed], { keys = termcodes('<C-t>'), mode = 'ni' }, 'the earlier mapping, noremap')
keymaps.fallback('<C-Right>')
t.eq(fed[#fed], { keys = termcodes('word'), mode = 'ni' }, 'an <expr> mapping is evaluated')
keymaps.fallback('<C-Down>')
t.eq(fed[#fed], { keys = termcodes('<End>'), mode = 'ni' }, 'a Lua <expr> callback')
keymaps.fallback('<C-]>')
t.eq(fed[#fed], { keys = termcodes('<C-]>'), mode = 'ni' }, 'no earlier mapping: the key')

-- setup() again without <Tab>: the earlier mapping is back.
config.setup({ keymap = { accept = '<C-l>' } })
keymaps.setup()
t.eq(vim.fn.maparg('<Tab>', 'i'), '<C-T>', '<Tab> as before')
assert(vim.fn.maparg('<C-l>', 'i', false, true).desc:find('^llama%-coder'), '<C-l> is ours')
print('ok')
