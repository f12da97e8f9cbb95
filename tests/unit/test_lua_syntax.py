"""Every Lua file of the plugin parses (with Neovim's own LuaJIT)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT
from tests.e2e.harness import nvim_binary

CHECK = """
local bad = {}
for _, path in ipairs(_G.arg) do
  local ok, err = loadfile(path)
  if not ok then table.insert(bad, err) end
end
if #bad > 0 then io.stderr:write(table.concat(bad, '\\n')) os.exit(1) end
"""


def test_lua_files_parse(tmp_path: object) -> None:
    files = sorted(str(p) for p in (ROOT / "lua").rglob("*.lua"))
    files += sorted(str(p) for p in (ROOT / "plugin").rglob("*.lua"))
    assert len(files) >= 10
    script = ROOT / ".cache" / "luacheck.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(CHECK, encoding="utf-8")
    result = subprocess.run([nvim_binary(), "--clean", "-l", str(script), *files],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
