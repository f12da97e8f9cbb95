-- config.portable(): what setup() got, as it can travel to the engine; config.build().
local t = dofile(vim.env.LLAMA_CODER_ROOT .. '/tests/lua/helper.lua')
local config = require('llama_coder.config')

local cleaned, problems = config.portable({ delay = 10, ui = { show_info = true } })
t.eq(cleaned, { delay = 10, ui = { show_info = true } }, 'plain table kept')
t.eq(problems, {}, 'no problems')

cleaned, problems = config.portable({ filetypes = { 'python', markdown = false }, delay = 5 })
t.eq(cleaned, { delay = 5 }, 'mixed table dropped')
t.eq(#problems, 1, 'one message')
assert(problems[1]:find('^filetypes mixes list items'), problems[1])

cleaned, problems = config.portable({ routes = { python = { model = 'm', on = print } } })
t.eq(cleaned, { routes = { python = { model = 'm' } } }, 'function dropped')
assert(problems[1]:find('^routes.python.on is a function'), problems[1])

cleaned = config.portable({ fallback = { { backend = 'llamacpp' }, { backend = 'vllm' } } })
t.eq(cleaned.fallback[2].backend, 'vllm', 'a list of tables kept')

local cycle = {}
cycle.self = cycle
cleaned, problems = config.portable({ formats = cycle })
t.eq(cleaned, { formats = {} }, 'cycle cut')
assert(problems[1]:find('formats.self contains itself'), problems[1])

cleaned, problems = config.portable({ temperature = 0 / 0 })
t.eq(cleaned, {}, 'NaN dropped')
t.eq(#problems, 1, 'NaN named')

cleaned, problems = config.portable('python')
t.eq(cleaned, {}, 'not a table')
t.eq(#problems, 1, 'not a table named')

local values = config.build({ delay = 'x', keymap = { accept = false } })
t.eq(values.delay, 250, 'a bad value keeps its default')
t.eq(values.keymap.accept, false, 'false turns a key off')
t.eq(values.keymap.dismiss, '<C-]>', 'other keys keep their defaults')

local _, problems2 = config.build({ filetypes = { help = 'no' }, delay = -2, trigger = { min_chars = 1.5 } })
t.eq(#problems2, 3, 'three Lua keys reported')
assert(problems2[1]:find("^delay must be an integer from %-1 to 5000, got %-2; using the default 250"), problems2[1])
local ft = config.build({ filetypes = { help = 'no' } })
t.eq(ft.filetypes.help, false, "filetypes = { help = 'no' } keeps suggestions off in help")
local _, engine_keys = config.build({ max_tokens = 'x', context = { prefix_lines = -1 } })
t.eq(engine_keys, {}, 'engine keys are reported by the engine')
print('ok')
