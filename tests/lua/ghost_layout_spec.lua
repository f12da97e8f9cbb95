-- ghost.layout(): the extmark that shows a suggestion exactly as accepting it would.
local t = dofile(vim.env.LLAMA_CODER_ROOT .. '/tests/lua/helper.lua')
local ghost = require('llama_coder.ghost')
local HL = 'LlamaCoderSuggestion'

local one = ghost.layout('foo()', 'x = ', '', 8)
t.eq(one.virt_text_pos, 'inline', 'one line inline')
t.eq(one.virt_text, { { 'foo()', HL } }, 'one line text')
t.eq(one.virt_lines, nil, 'no virtual lines')

local eol = ghost.layout('if x:\n    y', '', '', 8)
t.eq(eol.virt_text_pos, 'inline', 'multi-line at the end of a line')
t.eq(eol.virt_lines, { { { '    y', HL } } }, 'the next lines below')

local mid = ghost.layout('a,\nb', 'print(', ')', 8)
t.eq(mid.virt_text_pos, 'overlay', 'multi-line mid-line covers the rest of the line')
t.eq(mid.virt_text, { { 'a,', HL } }, 'first line over ")"')
t.eq(mid.virt_lines, { { { 'b', HL }, { ')', 'Normal' } } }, 'the rest after the last line')

local wide = ghost.layout('a\nb', 'f(', 'xyz)', 8)
t.eq(wide.virt_text, { { 'a   ', HL } }, 'padded to cover a longer rest')

local blank = ghost.layout('a\n\nb', '', '', 8)
t.eq(blank.virt_lines[1], { { ' ', HL } }, 'an empty line still takes a row')

t.eq(ghost.expand_tabs('a\tb', 1, 4), 'a  b', 'tab to the next stop')
t.eq(ghost.expand_tabs('\tx', 0, 4), '    x', 'tab at column 0')
print('ok')
