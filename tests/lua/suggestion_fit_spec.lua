-- suggestion.fit(): what is left of a suggestion after the user typed (or did not).
local t = dofile(vim.env.LLAMA_CODER_ROOT .. '/tests/lua/helper.lua')
local fit = require('llama_coder.suggestion').fit

---@return LlamaCoderPlace
local function place(before, after, extra)
  return vim.tbl_extend('force', {
    win = 1000, buf = 1, tick = 10, row = 3, col = #before, before = before, after = after,
  }, extra or {})
end

local at = place('x = ', '')
t.eq(fit(at, at, 'foo(1)'), 'foo(1)', 'nothing changed')
t.eq(fit(at, place('x = fo', '', { tick = 12 }), 'foo(1)'), 'o(1)', 'typed through')
t.eq(fit(at, place('x = fa', '', { tick = 12 }), 'foo(1)'), nil, 'typed something else')
t.eq(fit(at, place('x = foo(1)', '', { tick = 16 }), 'foo(1)'), nil, 'typed all of it')
t.eq(fit(at, place('x = foo', '', { tick = 13 }), 'foo  \n'), nil, 'only blanks left')
t.eq(fit(at, place('x = fo', '', { tick = 12, win = 1001 }), 'foo(1)'), nil, 'other window')
t.eq(fit(at, place('x = fo', '', { tick = 12, buf = 2 }), 'foo(1)'), nil, 'other buffer')
t.eq(fit(at, place('x = fo', '', { tick = 12, row = 4 }), 'foo(1)'), nil, 'other line')
t.eq(fit(at, place('x =', ' ', { tick = 12 }), 'foo(1)'), nil, 'cursor moved left')
t.eq(fit(at, place('x = ', '', { tick = 12 }), 'foo(1)'), 'foo(1)', 'a change on another line')
-- An auto-pair plugin added ")" after "(": it is dropped from the first line's end.
t.eq(fit(at, place('x = foo(', ')', { tick = 12 }), 'foo(1)\nbar'), '1\nbar', 'auto-pair')
t.eq(fit(at, place('x = foo(', ']', { tick = 12 }), 'foo(1)'), nil, 'another closer')
t.eq(fit(place('f(', ')'), place('f(a', ')', { tick = 11 }), 'a, b'), ', b', 'inside brackets')
print('ok')
