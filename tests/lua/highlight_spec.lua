-- llama_coder.highlight: the ghost text stays visible with and without 'termguicolors',
-- and colour schemes that set the group win. Run with `nvim --clean -l`.
local root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h')
vim.opt.rtp:prepend(root)
local hl = require('llama_coder.highlight')

local function eq(got, want, what)
  assert(vim.deep_equal(got, want), ('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want)))
end

-- Pure parts
eq(hl.colors('xterm-256color', nil), 256, 'xterm-256color')
eq(hl.colors('tmux-256color', ''), 256, 'tmux-256color')
eq(hl.colors('screen', nil), 16, 'plain screen')
eq(hl.colors('screen', 'truecolor'), 256, 'COLORTERM set')
eq(hl.colors('linux', nil), 256, 'linux console (Neovim assumes 256)')
eq(hl.colors('vt100', nil), 16, 'vt100')
eq(hl.colors(nil, nil), 16, 'no TERM')
eq(hl.decide({ fg = 1, ctermfg = 2 }, 256), { link = 'Comment' }, 'Comment has both colours: link')
eq(hl.decide({ fg = 0x4f5258 }, 256), { fg = 0x4f5258, ctermfg = 244 }, 'GUI only: cterm grey')
eq(hl.decide({ fg = 0x4f5258 }, 16), { fg = 0x4f5258, ctermfg = 8 }, 'GUI only, 16 colours')
eq(hl.decide({ ctermfg = 243, italic = true }, 256), { fg = 0x808080, ctermfg = 243, italic = true }, 'cterm only')
eq(hl.decide({}, 256), { fg = 0x808080, ctermfg = 244 }, 'no colour at all')
eq(hl.is_default({}), true, 'empty')
eq(hl.is_default({ default = true, fg = 1 }), true, 'a default')
eq(hl.is_default({ link = 'Comment' }), true, 'restored default link')
eq(hl.is_default({ fg = 1 }), false, 'set by a scheme')
eq(hl.is_default({ link = 'NonText' }), false, 'linked elsewhere by a scheme')

-- In this Neovim, with its default colour scheme
local function group()
  return vim.api.nvim_get_hl(0, { name = hl.GROUP, link = false })
end
local function comment()
  return vim.api.nvim_get_hl(0, { name = 'Comment', link = false })
end
vim.env.TERM = 'tmux-256color'
vim.env.COLORTERM = nil
hl.watch()
for _, tgc in ipairs({ false, true }) do
  vim.o.termguicolors = tgc
  vim.cmd('colorscheme default')
  hl.apply()
  local g, c = group(), comment()
  assert(c.fg and not c.ctermfg, "the default scheme's Comment: GUI colour only " .. vim.inspect(c))
  eq(g.ctermfg, 244, 'termguicolors=' .. tostring(tgc) .. ': cterm grey')
  eq(g.fg, c.fg, "termguicolors=" .. tostring(tgc) .. ": Comment's GUI colour")
end

-- 'background' changes Comment's colour: the group follows.
vim.o.background = 'light'
eq(group().fg, comment().fg, 'after background=light')
vim.o.background = 'dark'
eq(group().fg, comment().fg, 'after background=dark')

-- A scheme whose Comment has both colours: a plain link.
vim.cmd('colorscheme habamax')
eq(vim.api.nvim_get_hl(0, { name = hl.GROUP }).link, 'Comment', 'habamax: link')
eq(group().ctermfg, comment().ctermfg, 'habamax: its cterm colour')
-- And back to the default scheme: the grey again.
vim.cmd('colorscheme default')
eq(group().ctermfg, 244, 'default again: grey')

-- A scheme that sets the group itself wins, and keeps winning.
local dir = vim.fn.tempname()
vim.fn.mkdir(dir .. '/colors', 'p')
local file = io.open(dir .. '/colors/ghosty.lua', 'w')
file:write([[
vim.cmd('hi clear')
vim.g.colors_name = 'ghosty'
vim.api.nvim_set_hl(0, 'Comment', { fg = '#00ff00' })
vim.api.nvim_set_hl(0, 'LlamaCoderSuggestion', { fg = '#ff00ff', ctermfg = 201 })
]])
file:close()
vim.opt.rtp:append(dir)
vim.cmd('colorscheme ghosty')
eq(group(), { fg = 0xff00ff, ctermfg = 201 }, "the scheme's own group")
hl.apply()
eq(group(), { fg = 0xff00ff, ctermfg = 201 }, "the scheme's own group after apply()")

-- What the user sets before setup() stays.
vim.cmd('colorscheme default')
vim.cmd('hi LlamaCoderSuggestion ctermfg=123 guifg=#123456')
hl.apply()
eq(group(), { fg = 0x123456, ctermfg = 123 }, "the user's group")

print('ok')
