-- llama_coder.python: version parsing, requirements from pyproject.toml, which Python
-- the engine runs with. Run with `nvim --clean -l`; errors on the first failure.
local root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h')
vim.opt.rtp:prepend(root)
local py = require('llama_coder.python')

local function eq(got, want, what)
  assert(vim.deep_equal(got, want), ('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want)))
end

-- Versions
eq(py.parse_version('3.11.2'), { 3, 11, 2 }, 'plain')
eq(py.parse_version('Python 3.9.18 is too old'), { 3, 9, 18 }, 'in a sentence')
eq(py.parse_version('3.13'), { 3, 13, 0 }, 'no patch')
eq(py.parse_version('nope'), nil, 'no version')
eq(py.parse_version(nil), nil, 'nil')
for _, case in ipairs({
  { '3.10.0', true },
  { '3.9.18', false },
  { '3.14.1', true },
  { '2.7.18', false },
  { '4.0.0', true },
  { '3.1.0', false },
}) do
  eq(py.version_ok(py.parse_version(case[1])), case[2], 'version_ok ' .. case[1])
end
eq(py.version_ok(nil), false, 'version_ok nil')

-- Requirements
local toml = [=[
[build-system]
requires = ["setuptools>=68"]
dependencies = ["not-this"]

[project]
name = "x"
dependencies = [
    "pynvim>=0.5.0",  # a comment with "quotes"
    'msgpack>=1.0.0',
    # a whole-line comment ]
    "httpx[http2]>=0.27.0; python_version >= '3.10'",
]

[project.optional-dependencies]
test = ["pytest"]
]=]
eq(py.parse_requirements(toml), {
  'pynvim>=0.5.0',
  'msgpack>=1.0.0',
  "httpx[http2]>=0.27.0; python_version >= '3.10'",
}, 'multi-line list')
eq(py.parse_requirements('[project]\ndependencies = ["a", "b>=1"]\n'), { 'a', 'b>=1' }, 'one line')
eq(py.parse_requirements('[project]\ndependencies = []\n'), {}, 'empty list')
local none, err = py.parse_requirements('[tool.x]\ndependencies = ["a"]\n')
eq(none, nil, 'outside [project]')
assert(err:find('no dependencies'), err)
none, err = py.parse_requirements('[project]\ndependencies = [\n "a",\n')
eq(none, nil, 'not closed')
assert(err:find('not closed'), err)
eq(py.requirement_name('httpx[http2]>=0.27.0; x'), 'httpx', 'name with extras')
eq(py.requirement_name('PyNvim >= 0.5'), 'pynvim', 'name lowercased')
eq(py.requirement_name('zope.interface~=6'), 'zope.interface', 'dotted name')

-- The plugin's own pyproject.toml parses, and names the engine's packages.
local reqs = assert(py.requirements())
local names = vim.tbl_map(py.requirement_name, reqs)
for _, wanted in ipairs({ 'pynvim', 'msgpack', 'httpx', 'sniffio' }) do
  assert(vim.tbl_contains(names, wanted), wanted .. ' not in ' .. vim.inspect(names))
end

-- The choice
local base = {
  setting = '',
  venv_python = '/data/venv/bin/python',
  venv_runs = false,
  stamp = nil,
  requirements = { 'a>=1', 'b' },
  host_prog = nil,
  own_venv_python = nil,
}
local function choose(over)
  return py.choose(vim.tbl_extend('force', base, over))
end
eq(choose({}), { path = 'python3', source = 'path' }, 'nothing: python3')
eq(choose({ setting = '/x/python' , venv_runs = true, stamp = { requirements = { 'b', 'a>=1' } } }),
  { path = '/x/python', source = 'setup' }, 'the setting wins')
eq(choose({ venv_runs = true, stamp = { requirements = { 'b', 'a>=1' } }, host_prog = '/h' }),
  { path = '/data/venv/bin/python', source = 'install' }, 'installed environment before host_prog')
eq(choose({ venv_runs = true, stamp = nil, host_prog = '/h' }),
  { path = '/h', source = 'host_prog' }, 'no stamp yet: not used')
local stale = choose({ venv_runs = true, stamp = { requirements = { 'a>=0.5', 'b' } } })
eq(stale.path, '/data/venv/bin/python', 'other requirements: still used')
assert(stale.note and stale.note:find(':LlamaCoderInstall'), 'other requirements: a note')
local broken = choose({ venv_runs = false, stamp = { requirements = { 'a>=1', 'b' } }, own_venv_python = '/p/.venv/bin/python' })
eq(broken.path, '/p/.venv/bin/python', 'broken environment: next in line')
eq(broken.source, 'plugin_venv', 'broken environment: source')
assert(broken.note and broken.note:find('no longer runs'), 'broken environment: a note')
eq(choose({ host_prog = '/h', own_venv_python = '/p' }).path, '/h', 'host_prog before the plugin .venv')
assert(py.describe_source('install'):find('LlamaCoderInstall'))

-- engine_python() in this clean Neovim: nothing installed, no setting.
require('llama_coder.config').setup({})
vim.g.python3_host_prog = '/some/python'
eq(py.engine_python().source, 'host_prog', 'engine_python with g:python3_host_prog')
eq(py.venv_dir(), vim.fn.stdpath('data') .. '/llama-coder/venv', 'venv dir')

print('ok')
